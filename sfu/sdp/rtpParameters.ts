// Translation between offered m= sections and mediasoup RTP parameters/capabilities.
import type { types as ms } from 'mediasoup';
import { describeCodec, isAuxiliaryCodec, isSupportedMediaCodec } from '../codecs.js';
import { paramsOf } from '../tracks.js';
import { NoCommonCodecError } from '../errors.js';
import type { OfferedCodec, OfferedHeaderExtension, OfferedMedia } from './offer.js';
import type { TrackKind } from '../tracks.js';

/** What we accept from one sending m= section: the producer's parameters. */
export interface AcceptedSendMedia {
  media: OfferedMedia;
  kind: TrackKind;
  rtpParameters: ms.RtpParameters;
}

export function isMediaSection(m: OfferedMedia): m is OfferedMedia & { kind: TrackKind } {
  return m.kind === 'audio' || m.kind === 'video';
}

/**
 * Producer parameters for each sending audio/video section of a WHIP offer: the offerer's first codec the
 * router supports (offer order is the client's preference), its RTX, the feedback and header extensions
 * mediasoup understands, and the encodings (SSRC + FID-RTX, SIM group, or rids for simulcast).
 * Sections we cannot take are left out (the answer rejects them); none at all is a NoCommonCodecError.
 */
export function producerParametersFromOffer(
  media: OfferedMedia[],
  capabilities: ms.RtpCapabilities,
): AcceptedSendMedia[] {
  const accepted: AcceptedSendMedia[] = [];
  for (const m of media) {
    if (!isMediaSection(m) || (m.direction !== 'sendonly' && m.direction !== 'sendrecv')) continue;
    const codec = m.codecs.find((c) => !isAuxiliaryCodec(c.mimeType) && isSupportedMediaCodec(c));
    if (!codec) continue;
    const rtx = m.codecs.find((c) => /\/rtx$/i.test(c.mimeType) && Number(c.parameters.apt) === codec.payloadType);
    const codecs: ms.RtpCodecParameters[] = [toCodecParameters(codec)];
    if (rtx) codecs.push({ ...toCodecParameters(rtx), rtcpFeedback: [] });
    accepted.push({
      media: m,
      kind: m.kind,
      rtpParameters: {
        mid: m.mid,
        codecs,
        headerExtensions: supportedExtensions(m.kind, m.headerExtensions, capabilities).map((e) => ({ uri: e.uri, id: e.id })),
        encodings: encodingsFor(m, rtx !== undefined),
        rtcp: { cname: m.ssrcs.cname ?? `whipcast-${m.mid}`, reducedSize: true },
      },
    });
  }
  if (accepted.length === 0 && !media.some((m) => isMediaSection(m) && (m.direction === 'sendonly' || m.direction === 'sendrecv'))) {
    throw new NoCommonCodecError('the offer sends no audio or video: a WHIP offer must be sendonly (or sendrecv)', offeredLabels(media));
  }
  if (accepted.length === 0) {
    throw new NoCommonCodecError(`no supported codec offered (offered: ${offeredLabels(media).join(', ') || 'nothing'}; supported: opus, VP8, VP9, H264 packetization-mode=1)`, offeredLabels(media));
  }
  return accepted;
}

/** One track of a stream as a viewer will receive it: the viewer's section, payload type and capabilities. */
export interface ViewerTrackMatch {
  media: OfferedMedia;
  /** The viewer's payload type for the stream's codec (and for its RTX, if offered). */
  payloadType: number;
  rtxPayloadType: number | undefined;
  /** Capabilities to consume with, from a router whose media payload types are the viewer's (see Room). */
  capabilities: ms.RtpCapabilities;
}

/**
 * Finds the viewer's codec for a stream codec in one receiving section: same codec and clock rate (and channels,
 * VP9 profile). For H264 any packetization-mode=1 entry does, preferring the same profile: browsers' H264
 * decoders take every profile whatever the negotiated profile-level-id, while mediasoup matches profiles exactly.
 */
export function matchViewerCodec(m: OfferedMedia & { kind: TrackKind }, streamCodec: ms.RtpCodecParameters): ViewerTrackMatch | undefined {
  const mime = streamCodec.mimeType.toLowerCase();
  const candidates = m.codecs.filter((c) => {
    if (c.mimeType.toLowerCase() !== mime || c.clockRate !== streamCodec.clockRate) return false;
    if (m.kind === 'audio') return (c.channels ?? 1) === (streamCodec.channels ?? 1);
    if (mime === 'video/vp9') return String(c.parameters['profile-id'] ?? 0) === String(paramsOf(streamCodec)['profile-id'] ?? 0);
    if (mime === 'video/h264') return String(c.parameters['packetization-mode'] ?? 0) === '1';
    return true;
  });
  const streamProfile = String(paramsOf(streamCodec)['profile-level-id'] ?? '').slice(0, 4).toLowerCase();
  const codec = candidates.find((c) => String(c.parameters['profile-level-id'] ?? '').slice(0, 4).toLowerCase() === streamProfile) ?? candidates[0];
  if (!codec) return undefined;
  const rtx = m.codecs.find((c) => /\/rtx$/i.test(c.mimeType) && Number(c.parameters.apt) === codec.payloadType);
  const kind = m.kind;
  return {
    media: m,
    payloadType: codec.payloadType,
    rtxPayloadType: rtx?.payloadType,
    capabilities: {
      codecs: [
        { kind, mimeType: streamCodec.mimeType, clockRate: streamCodec.clockRate, ...(streamCodec.channels === undefined ? {} : { channels: streamCodec.channels }), preferredPayloadType: codec.payloadType, parameters: { ...paramsOf(streamCodec) }, rtcpFeedback: codec.rtcpFeedback.map((f) => ({ ...f })) },
        // The consumer sends RTX with the viewer's payload type, not the router's (scripts/patches: ortc).
        ...(rtx ? [{ kind, mimeType: rtx.mimeType, clockRate: rtx.clockRate, preferredPayloadType: rtx.payloadType, parameters: { apt: codec.payloadType }, rtcpFeedback: [] }] : []),
      ],
      // The viewer's own ids: the consumer sends with them (scripts/patches: per-consumer extension ids). Ids above
      // 14 do not fit the one-byte form mediasoup's packets use, so those extensions are left out.
      headerExtensions: m.headerExtensions.filter((e) => e.id <= MAX_ONE_BYTE_EXTENSION_ID).map((e) => ({ kind, uri: e.uri, preferredId: e.id, direction: 'sendrecv' as const })),
    },
  };
}

/** RFC 8285 one-byte header extensions carry ids 1–14. */
const MAX_ONE_BYTE_EXTENSION_ID = 14;

function toCodecParameters(c: OfferedCodec): ms.RtpCodecParameters {
  return {
    mimeType: c.mimeType,
    payloadType: c.payloadType,
    clockRate: c.clockRate,
    ...(c.channels === undefined ? {} : { channels: c.channels }),
    parameters: { ...c.parameters },
    rtcpFeedback: c.rtcpFeedback.map((f) => ({ ...f })),
  };
}

function supportedExtensions(kind: TrackKind, offered: OfferedHeaderExtension[], routerCaps: ms.RtpCapabilities): OfferedHeaderExtension[] {
  const known = new Set((routerCaps.headerExtensions ?? []).filter((e) => e.kind === kind).map((e) => e.uri));
  return offered.filter((e) => known.has(e.uri));
}

function encodingsFor(m: OfferedMedia, hasRtx: boolean): ms.RtpEncodingParameters[] {
  if (m.rids.length > 0) return m.rids.map((rid) => ({ rid }));
  if (m.ssrcs.media.length > 0) {
    return m.ssrcs.media.map((ssrc) => {
      const rtxSsrc = m.ssrcs.rtx.get(ssrc);
      return hasRtx && rtxSsrc !== undefined ? { ssrc, rtx: { ssrc: rtxSsrc } } : { ssrc };
    });
  }
  // No SSRC and no rid (e.g. a client that announces neither): mediasoup then matches the stream by MID.
  return [{}];
}

function offeredLabels(media: OfferedMedia[]): string[] {
  const labels = new Set<string>();
  for (const m of media) for (const c of m.codecs) if (!isAuxiliaryCodec(c.mimeType)) labels.add(describeCodec(c));
  return [...labels];
}
