// A live stream as GET /api/streams shows it: tracks with codec and current bitrate, viewers and where they are served.
import { paramsOf } from '../../sfu/index.js';
import type { LiveStream, TranscodePath } from './StreamRegistry.js';

/** Parts of a stream's description owned elsewhere (relays, recording, HLS), keyed by field name. */
export type StreamExtras = Record<string, (live: LiveStream) => unknown>;

export interface TrackInfo {
  kind: string;
  codec: string;
  /** e.g. "profile-level-id=42e01f;packetization-mode=1" */
  parameters: string;
  bitrateBps: number;
  simulcastLayers: number;
}

export interface StreamInfo {
  app: string;
  stream: string;
  protocol: string;
  startedAt: string;
  uptimeSeconds: number;
  viewers: number;
  viewersByWorker: Record<number, number>;
  tracks: TrackInfo[];
  /** What the server transcodes for WebRTC viewers (always "none" for WHIP). */
  transcode: TranscodePath;
  latencyMode: string;
  [extra: string]: unknown;
}

export async function describeStream(live: LiveStream, extras: StreamExtras = {}): Promise<StreamInfo> {
  const tracks = await Promise.all(
    live.room.producers.map(async (producer): Promise<TrackInfo> => {
      const codec = producer.rtpParameters.codecs[0];
      const stats = await producer.getStats().catch(() => []);
      return {
        kind: producer.kind,
        codec: codec?.mimeType ?? 'unknown',
        parameters: Object.entries(codec ? paramsOf(codec) : {}).map(([k, v]) => `${k}=${String(v)}`).join(';'),
        bitrateBps: stats.reduce((sum, s) => sum + (s.bitrate ?? 0), 0),
        simulcastLayers: producer.rtpParameters.encodings?.length ?? 1,
      };
    }),
  );
  return {
    app: live.app,
    stream: live.stream,
    protocol: live.protocol,
    startedAt: live.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - live.startedAt.getTime()) / 1000),
    viewers: live.room.viewerCount,
    viewersByWorker: live.room.viewersByWorker(),
    tracks,
    transcode: live.transcode,
    latencyMode: live.latencyMode,
    ...Object.fromEntries(Object.entries(extras).map(([field, describe]) => [field, describe(live)])),
  };
}
