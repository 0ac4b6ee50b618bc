// A request for a stream, as every protocol (WHIP, WHEP, RTMP, HLS, HTTP-FLV) hands it to admission.

export type IngestProtocol = 'whip' | 'rtmp';
export type PlayProtocol = 'whep' | 'hls' | 'flv';
export type MediaProtocol = IngestProtocol | PlayProtocol;

/** A streaming domain's latency mode: half-second domains are WebRTC only. */
export type LatencyMode = 'sub-second' | 'half-second';

export interface MediaRequest {
  app: string;
  stream: string;
  protocol: MediaProtocol;
  /** The value of `Authorization: Bearer <token>`, if any (RTMP: the stream key's `?token=`). */
  bearerToken: string | undefined;
  query: Record<string, string>;
  ip: string;
  /** The request's host without its port: its domain. */
  host: string;
  /** The Referer header (HTTP playback; RTMP and encoders send none). */
  referer?: string | undefined;
  /** The URL path of the endpoint, e.g. /whip/live/cam1 or /live/live/cam1.m3u8. */
  path: string;
}
