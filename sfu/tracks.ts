// A live stream's tracks in sfu/'s own terms, so that the rest of the server never depends on mediasoup's types.
import type { types as ms } from 'mediasoup';

export type TrackKind = 'audio' | 'video';

/** A codec's a=fmtp parameters, typed: mediasoup declares them `any`. */
export type CodecParameters = Record<string, string | number>;

export function paramsOf(codec: { parameters?: unknown }): CodecParameters {
  return (codec.parameters ?? {}) as CodecParameters;
}

/** A codec as one side of a track numbers it (payload type), with its a=fmtp parameters. */
export interface TrackCodec {
  mimeType: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  parameters: CodecParameters;
}

/** A track the publisher sends. */
export interface TrackInfo {
  kind: TrackKind;
  /** Numbered as the publisher numbers it. */
  codec: TrackCodec;
  /** Simulcast encodings (1 without simulcast). */
  simulcastLayers: number;
}

export function trackCodec(codec: ms.RtpCodecParameters): TrackCodec {
  return {
    mimeType: codec.mimeType,
    payloadType: codec.payloadType,
    clockRate: codec.clockRate,
    ...(codec.channels === undefined ? {} : { channels: codec.channels }),
    parameters: { ...paramsOf(codec) },
  };
}

/** The media codec of RTP parameters: the first one (retransmission and the like follow it). */
export function mediaCodec(parameters: ms.RtpParameters): ms.RtpCodecParameters {
  const codec = parameters.codecs[0];
  if (!codec) throw new Error('RTP parameters without a codec');
  return codec;
}

export function trackOf(producer: ms.Producer): TrackInfo {
  return { kind: producer.kind, codec: trackCodec(mediaCodec(producer.rtpParameters)), simulcastLayers: producer.rtpParameters.encodings?.length ?? 1 };
}
