// Numbers about a room's media, from mediasoup's own stats: what the publisher sends in (per track) and what the
// viewers' consumers send out. Counters (packets lost, NACKs, PLIs) are cumulative over the producer's or the
// consumers' lives; bitrates are mediasoup's current estimates. Nothing here knows HTTP.
import type { types as ms } from 'mediasoup';

export interface IngressTrackStats {
  kind: string;
  mimeType: string;
  /** Current bitrate received from the publisher, summed over simulcast encodings. */
  bitrateBps: number;
  packets: number;
  packetsLost: number;
  /** NACKs and PLIs/FIRs the SFU sent to the publisher (on viewers' behalf or its own). */
  nackCount: number;
  pliCount: number;
  firCount: number;
  /** RTP jitter (largest over encodings), in RTP timestamp units as mediasoup reports it. */
  jitter: number;
  /** mediasoup's 0–10 quality score (lowest over encodings). */
  score: number;
  /** Round trip to the publisher in ms, when its RTCP tells (WebRTC publishers). */
  roundTripTimeMs: number | null;
}

export interface EgressStats {
  consumers: number;
  /** Current bitrate sent to viewers, summed over their consumers. */
  bitrateBps: number;
  packets: number;
  /** Packets the viewers report lost. */
  packetsLost: number;
  /** NACKs and PLIs/FIRs received from viewers. */
  nackCount: number;
  pliCount: number;
  firCount: number;
  /** Mean round trip to the viewers in ms (consumers whose receiver reports tell it), null when none does. */
  roundTripTimeMs: number | null;
}

export interface RoomStats {
  ingress: IngressTrackStats[];
  egress: EgressStats;
}

/** Stats of producers (origin) and of the consumers serving viewers; closed objects are skipped. */
export async function mediaStats(producers: readonly ms.Producer[], consumers: readonly ms.Consumer[]): Promise<RoomStats> {
  const ingress = await Promise.all(producers.map(async (producer) => ingressStats(producer, await producer.getStats().catch(() => []))));
  const outbound = await Promise.all(consumers.map((c) => c.getStats().then((all) => all.filter((s) => s.type === 'outbound-rtp')).catch(() => [])));
  const sent = outbound.flat();
  const rtts = sent.map((s) => s.roundTripTime).filter((r): r is number => typeof r === 'number' && r > 0);
  return {
    ingress,
    egress: {
      consumers: consumers.length,
      bitrateBps: sum(sent, (s) => s.bitrate),
      packets: sum(sent, (s) => s.packetCount),
      packetsLost: sum(sent, (s) => Math.max(0, s.packetsLost)),
      nackCount: sum(sent, (s) => s.nackCount),
      pliCount: sum(sent, (s) => s.pliCount),
      firCount: sum(sent, (s) => s.firCount),
      roundTripTimeMs: rtts.length > 0 ? sum(rtts, (r) => r) / rtts.length : null,
    },
  };
}

function ingressStats(producer: ms.Producer, stats: ms.ProducerStat[]): IngressTrackStats {
  const rtts = stats.map((s) => s.roundTripTime).filter((r): r is number => typeof r === 'number' && r > 0);
  return {
    kind: producer.kind,
    mimeType: producer.rtpParameters.codecs[0]?.mimeType ?? 'unknown',
    bitrateBps: sum(stats, (s) => s.bitrate),
    packets: sum(stats, (s) => s.packetCount),
    packetsLost: sum(stats, (s) => Math.max(0, s.packetsLost)),
    nackCount: sum(stats, (s) => s.nackCount),
    pliCount: sum(stats, (s) => s.pliCount),
    firCount: sum(stats, (s) => s.firCount),
    jitter: Math.max(0, ...stats.map((s) => s.jitter)),
    score: stats.length > 0 ? Math.min(...stats.map((s) => s.score)) : 0,
    roundTripTimeMs: rtts.length > 0 ? Math.max(...rtts) : null,
  };
}

function sum<T>(items: readonly T[], value: (item: T) => number | undefined): number {
  return items.reduce((total, item) => total + (value(item) ?? 0), 0);
}
