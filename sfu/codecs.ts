// The codecs every room's Router accepts, and how an offered codec is matched against them.
// mediasoup forwards media without transcoding, so a publisher's codec must be one viewers can take:
// Opus; VP8; VP9 profiles 0 and 2; H264 packetization-mode 1 in the four profiles browsers and encoders use.
// (AV1 needs mediasoup 3.13+, which cannot be built offline here: see README.)
import h264 from 'h264-profile-level-id';
import type { types as ms } from 'mediasoup';
import type { OfferedCodec } from './sdp/offer.js';
import { paramsOf, type TrackKind } from './tracks.js';

const h264Profiles = ['42e01f', '42001f', '4d001f', '640c1f', '64001f'];

export const routerMediaCodecs: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { useinbandfec: 1, 'sprop-stereo': 1 } },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0 } },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2 } },
  ...h264Profiles.map(
    (id): ms.RtpCodecCapability => ({
      kind: 'video',
      mimeType: 'video/H264',
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': id, 'level-asymmetry-allowed': 1 },
    }),
  ),
];

/** Codecs that carry no media of their own (retransmission, redundancy, comfort noise, DTMF). */
export function isAuxiliaryCodec(mimeType: string): boolean {
  return /\/(rtx|red|ulpfec|flexfec-03|cn|telephone-event)$/i.test(mimeType);
}

/** Whether a codec offered by a client is one the router can forward. */
export function isSupportedMediaCodec(codec: OfferedCodec): boolean {
  const mime = codec.mimeType.toLowerCase();
  return routerMediaCodecs.some((cap) => {
    if (cap.mimeType.toLowerCase() !== mime || cap.clockRate !== codec.clockRate) return false;
    if (mime === 'audio/opus') return codec.channels === 2;
    if (mime === 'video/vp9') return String(codec.parameters['profile-id'] ?? 0) === String(paramsOf(cap)['profile-id']);
    if (mime === 'video/h264') {
      return String(codec.parameters['packetization-mode'] ?? 0) === '1' && h264.isSameProfile(codec.parameters, paramsOf(cap));
    }
    return true;
  });
}

/** A short human label for error messages: "H264 (42e01f)", "opus/2". */
export function describeCodec(codec: OfferedCodec): string {
  const name = codec.mimeType.split('/')[1] ?? codec.mimeType;
  const profile = codec.parameters['profile-level-id'];
  return profile === undefined ? name : `${name} (${String(profile)})`;
}

/** Router codecs for one stream: exactly its codecs, numbered with the given payload types. */
export function streamRouterCodecs(codecs: { kind: TrackKind; codec: ms.RtpCodecParameters; payloadType: number }[]): ms.RtpCodecCapability[] {
  return codecs.map(({ kind, codec, payloadType }) => ({
    kind,
    mimeType: codec.mimeType,
    clockRate: codec.clockRate,
    ...(codec.channels === undefined ? {} : { channels: codec.channels }),
    preferredPayloadType: payloadType,
    parameters: { ...paramsOf(codec) },
  }));
}
