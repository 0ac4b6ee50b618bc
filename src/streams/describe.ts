// A live stream as GET /api/streams shows it: tracks with codec and what mediasoup measures of them (bitrate in,
// loss, NACKs, PLIs), what is sent to the viewers (bitrate out, their loss and round trip), viewers and uptime.
import type { RoomStats, SourceState } from '../../sfu/index.js';
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
  /** Since the track started: packets received, lost, and the NACKs and PLIs the server sent to the publisher. */
  packets: number;
  packetsLost: number;
  nackCount: number;
  pliCount: number;
  /** mediasoup's 0–10 receive quality score. */
  score: number;
  /** Round trip to the publisher (WebRTC publishers that send RTCP sender reports), else null. */
  rttMs: number | null;
}

export interface EgressInfo {
  /** Bitrate sent to all WebRTC viewers together. */
  bitrateBps: number;
  /** Since each viewer joined: packets they report lost, and the NACKs and PLIs they sent. */
  packetsLost: number;
  nackCount: number;
  pliCount: number;
  /** Mean round trip to the viewers (from their receiver reports), null until one reports it. */
  rttMs: number | null;
}

export interface StreamInfo {
  app: string;
  stream: string;
  /** The ingest domain the stream belongs to; null for the default domain. */
  ingestDomain: string | null;
  host: string;
  protocol: string;
  startedAt: string;
  uptimeSeconds: number;
  viewers: number;
  viewersByWorker: Record<number, number>;
  tracks: TrackInfo[];
  /** Bitrate received from the publisher, all tracks. */
  bitrateInBps: number;
  egress: EgressInfo;
  /** What the server transcodes for WebRTC viewers (always "none" for WHIP). */
  transcode: TranscodePath;
  latencyMode: string;
  /** live: a publisher feeds it; waiting: its publishers left, and it waits for one for its grace (viewers kept). */
  state: 'live' | 'waiting';
  /** The publisher viewers get; null while waiting. */
  activeSource: 'primary' | 'backup' | null;
  /** Its publishers (a primary, a backup) and their health; empty for a simulcast stream (one publisher, not replaceable). */
  sources: SourceState[];
  [extra: string]: unknown;
}

const NO_STATS: RoomStats = { ingress: [], egress: { consumers: 0, bitrateBps: 0, packets: 0, packetsLost: 0, nackCount: 0, pliCount: 0, firCount: 0, roundTripTimeMs: null } };

export async function describeStream(live: LiveStream, extras: StreamExtras = {}, stats?: RoomStats): Promise<StreamInfo> {
  const measured = stats ?? (await live.room.stats().catch(() => NO_STATS));
  const tracks = live.room.tracks().map((track, i): TrackInfo => {
    const s = measured.ingress[i];
    return {
      kind: track.kind,
      codec: track.codec.mimeType,
      parameters: Object.entries(track.codec.parameters).map(([k, v]) => `${k}=${String(v)}`).join(';'),
      bitrateBps: s?.bitrateBps ?? 0,
      simulcastLayers: track.simulcastLayers,
      packets: s?.packets ?? 0,
      packetsLost: s?.packetsLost ?? 0,
      nackCount: s?.nackCount ?? 0,
      pliCount: (s?.pliCount ?? 0) + (s?.firCount ?? 0),
      score: s?.score ?? 0,
      rttMs: s?.roundTripTimeMs ?? null,
    };
  });
  const { egress } = measured;
  return {
    app: live.app,
    stream: live.stream,
    ingestDomain: live.ingestDomain ?? null,
    host: live.host,
    protocol: live.protocol,
    startedAt: live.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - live.startedAt.getTime()) / 1000),
    viewers: live.room.viewerCount,
    viewersByWorker: live.room.viewersByWorker(),
    tracks,
    bitrateInBps: tracks.reduce((total, t) => total + t.bitrateBps, 0),
    egress: {
      bitrateBps: egress.bitrateBps,
      packetsLost: egress.packetsLost,
      nackCount: egress.nackCount,
      pliCount: egress.pliCount + egress.firCount,
      rttMs: egress.roundTripTimeMs === null ? null : Math.round(egress.roundTripTimeMs * 10) / 10,
    },
    transcode: live.transcode,
    latencyMode: live.latencyMode,
    state: live.room.isWaiting ? 'waiting' : 'live',
    activeSource: live.room.activeSource ?? null,
    sources: live.room.sourceStates(),
    ...Object.fromEntries(Object.entries(extras).map(([field, describe]) => [field, describe(live)])),
  };
}
