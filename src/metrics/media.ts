// The media as mediasoup measures it, per direction (ingress = from publishers, egress = to WebRTC viewers):
// bitrate, packets lost, NACKs, PLIs, round trip. Summed over the live streams unless perStreamLabels asks for
// app/stream labels (only where the number of streams is bounded: each label set is a time series).
import { Gauge, type Registry } from 'prom-client';
import type { RoomStats } from '../../sfu/index.js';
import type { LiveStream } from '../streams/StreamRegistry.js';
import type { Snapshot } from './snapshot.js';

type Direction = 'ingress' | 'egress';
const DIRECTIONS = ['ingress', 'egress'] as const;

export function mediaGauges(registry: Registry, snapshot: () => Snapshot, perStreamLabels: boolean): void {
  const labelNames = perStreamLabels ? ['direction', 'app', 'stream'] : ['direction'];
  const summed = (name: string, help: string, value: (stats: RoomStats, direction: Direction) => number): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const direction of DIRECTIONS) {
          const { streams } = snapshot();
          if (perStreamLabels) for (const { live, stats } of streams) this.set({ direction, app: live.app, stream: live.stream }, value(stats, direction));
          else this.set({ direction }, streams.reduce((sum, { stats }) => sum + value(stats, direction), 0));
        }
      },
    });
  };
  const ingressSum = (stats: RoomStats, key: 'bitrateBps' | 'packetsLost' | 'nackCount') => stats.ingress.reduce((sum, t) => sum + t[key], 0);
  summed('whipcast_bitrate_bps', 'Media bitrate: ingress from publishers, egress to WebRTC viewers (bits per second)', (s, d) => (d === 'ingress' ? ingressSum(s, 'bitrateBps') : s.egress.bitrateBps));
  summed('whipcast_rtp_packets_lost', 'RTP packets lost since each producer/consumer started: ingress from publishers, egress as viewers report it', (s, d) => (d === 'ingress' ? ingressSum(s, 'packetsLost') : s.egress.packetsLost));
  summed('whipcast_rtcp_nacks', 'NACKs since each producer/consumer started: ingress = sent to publishers, egress = received from viewers', (s, d) => (d === 'ingress' ? ingressSum(s, 'nackCount') : s.egress.nackCount));
  summed('whipcast_rtcp_plis', 'PLIs and FIRs since each producer/consumer started: ingress = sent to publishers, egress = received from viewers', (s, d) =>
    d === 'ingress' ? s.ingress.reduce((sum, t) => sum + t.pliCount + t.firCount, 0) : s.egress.pliCount + s.egress.firCount,
  );

  new Gauge({
    name: 'whipcast_rtt_seconds',
    help: 'Round-trip time: ingress = to publishers (largest), egress = to viewers (mean), of the streams that measure it',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const direction of DIRECTIONS) {
        const measured = snapshot().streams.map(({ live, stats }) => ({ live, ms: rtt(stats, direction) })).filter((m): m is { live: LiveStream; ms: number } => m.ms !== null);
        if (perStreamLabels) {
          for (const { live, ms } of measured) this.set({ direction, app: live.app, stream: live.stream }, ms / 1000);
        } else if (measured.length > 0) {
          const values = measured.map((m) => m.ms / 1000);
          this.set({ direction }, direction === 'ingress' ? Math.max(...values) : values.reduce((a, b) => a + b, 0) / values.length);
        }
      }
    },
  });
}

/**
 * Per-viewer adaptation, aggregated (viewer ids as labels would be one time series per connection; GET
 * /api/streams/{app}/{stream} lists each viewer's own): how many viewers are sent each simulcast layer, and the
 * spread of mediasoup's bandwidth estimates.
 */
export function viewerLinkGauges(registry: Registry, snapshot: () => Snapshot, perStreamLabels: boolean): void {
  const streamLabels = (live: LiveStream): Record<string, string> => (perStreamLabels ? { app: live.app, stream: live.stream } : {});
  new Gauge({
    name: 'whipcast_viewers_by_layer',
    help: 'WebRTC viewers of simulcast streams by the spatial layer they are sent now (0 = lowest)',
    labelNames: perStreamLabels ? ['spatial_layer', 'app', 'stream'] : ['spatial_layer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { live, links } of snapshot().streams) {
        for (const link of links) if (link.layers) this.inc({ ...streamLabels(live), spatial_layer: String(link.layers.spatialLayer) });
      }
    },
  });
  new Gauge({
    name: 'whipcast_viewer_estimated_bitrate_bps',
    help: "mediasoup's bandwidth estimate of WebRTC viewers' links: min, median and max over the viewers that have one",
    labelNames: perStreamLabels ? ['stat', 'app', 'stream'] : ['stat'],
    registers: [registry],
    collect() {
      this.reset();
      const groups = new Map<string, { labels: Record<string, string>; estimates: number[] }>();
      for (const { live, links } of snapshot().streams) {
        const labels = streamLabels(live);
        const key = JSON.stringify(labels);
        const group = groups.get(key) ?? { labels, estimates: [] };
        groups.set(key, group);
        for (const link of links) if (link.availableBitrateBps !== null) group.estimates.push(link.availableBitrateBps);
      }
      for (const { labels, estimates } of groups.values()) {
        if (estimates.length === 0) continue;
        const sorted = estimates.sort((a, b) => a - b);
        this.set({ ...labels, stat: 'min' }, sorted[0] ?? 0);
        this.set({ ...labels, stat: 'median' }, sorted[Math.floor(sorted.length / 2)] ?? 0);
        this.set({ ...labels, stat: 'max' }, sorted[sorted.length - 1] ?? 0);
      }
    },
  });
}

/** A stream's round trip: to its publisher (the largest of its tracks'), or to its viewers; null until measured. */
function rtt(stats: RoomStats, direction: Direction): number | null {
  if (direction === 'egress') return stats.egress.roundTripTimeMs;
  const rtts = stats.ingress.map((t) => t.roundTripTimeMs).filter((r): r is number => r !== null);
  return rtts.length > 0 ? Math.max(...rtts) : null;
}
