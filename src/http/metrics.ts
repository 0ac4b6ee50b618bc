// GET /metrics in Prometheus text format (prom-client): process metrics, HTTP requests by route pattern, the live
// streams by ingest protocol and transcode path (transcoding costs CPU and latency, so operators watch it), viewers,
// relays by state, streams being recorded, the media as mediasoup measures it (bitrate in and out, packets lost,
// NACKs, PLIs, round trip), FFmpeg processes and their CPU, mediasoup workers' CPU and memory, and refused requests
// by reason. Media gauges are summed over the live streams unless metrics.perStreamLabels asks for app/stream
// labels (only where the number of streams is bounded). Each server has its own registry.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RoomStats, Sfu, WorkerUsage } from '../../sfu/index.js';
import type { DenialCounter } from '../access/denials.js';
import { runningFfmpegs } from '../media/ffmpeg/ManagedFfmpeg.js';
import type { RelayManager } from '../media/RelayManager.js';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';

export interface MetricsOptions {
  streams: StreamRegistry;
  relays: RelayManager;
  /** Whether a live stream is being recorded now. */
  isRecorded: (app: string, stream: string) => boolean;
  sfu: Pick<Sfu, 'workerUsage'>;
  denials: DenialCounter;
  /** app/stream labels on the media gauges (config metrics.perStreamLabels). */
  perStreamLabels: boolean;
}

export interface Metrics {
  registry: Registry;
  /** fastify onResponse hook counting requests by route pattern, method and status: add it on the root instance. */
  onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;
  /** A viewer's report (GET /ws/player): its measured glass-to-glass latency (p50) and, once per connection, its TTFF. */
  viewerReport: (report: { app: string; stream: string; latencyMs: number | null; ttffMs: number | null }) => void;
  /** The plugin serving GET /metrics. */
  plugin: (fastify: FastifyInstance, options: unknown, done: () => void) => void;
}

/** Linux clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;
const PAGE_BYTES = 4096;

interface Snapshot {
  streams: { live: LiveStream; stats: RoomStats }[];
  workers: (WorkerUsage & { rssBytes: number | undefined })[];
  ffmpeg: { role: string; cpuSeconds: number | undefined }[];
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let snapshot: Snapshot = { streams: [], workers: [], ffmpeg: [] };

  const requests = new Counter({
    name: 'whipcast_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  new Gauge({
    name: 'whipcast_live_streams',
    help: 'Live streams by ingest protocol and transcode path',
    labelNames: ['protocol', 'transcode'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of options.streams.list()) this.inc({ protocol: s.protocol, transcode: s.transcode });
    },
  });
  new Gauge({
    name: 'whipcast_viewers',
    help: 'WebRTC viewers across all streams',
    registers: [registry],
    collect() {
      this.set(options.streams.list().reduce((sum, s) => sum + s.room.viewerCount, 0));
    },
  });
  new Gauge({
    name: 'whipcast_relays',
    help: 'Relays to other RTMP servers by state (connecting, live, retrying, error)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of options.streams.list()) for (const relay of options.relays.statusOf(s)) this.inc({ state: relay.state });
    },
  });
  new Gauge({
    name: 'whipcast_recorded_streams',
    help: 'Live streams being recorded',
    registers: [registry],
    collect() {
      this.set(options.streams.list().filter((s) => options.isRecorded(s.app, s.stream)).length);
    },
  });

  // Media, per direction: ingress = from publishers, egress = to WebRTC viewers.
  const mediaLabels = options.perStreamLabels ? ['direction', 'app', 'stream'] : ['direction'];
  const media = (name: string, help: string, value: (stats: RoomStats, direction: 'ingress' | 'egress') => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: mediaLabels,
      registers: [registry],
      collect() {
        this.reset();
        for (const direction of ['ingress', 'egress'] as const) {
          if (options.perStreamLabels) {
            for (const { live, stats } of snapshot.streams) {
              const v = value(stats, direction);
              if (v !== null) this.set({ direction, app: live.app, stream: live.stream }, v);
            }
            continue;
          }
          const values = snapshot.streams.map(({ stats }) => value(stats, direction)).filter((v): v is number => v !== null);
          this.set({ direction }, values.reduce((a, b) => a + b, 0));
        }
      },
    });
  };
  const ingressSum = (stats: RoomStats, key: 'bitrateBps' | 'packetsLost' | 'nackCount') => stats.ingress.reduce((sum, t) => sum + t[key], 0);
  media('whipcast_bitrate_bps', 'Media bitrate: ingress from publishers, egress to WebRTC viewers (bits per second)', (s, d) => (d === 'ingress' ? ingressSum(s, 'bitrateBps') : s.egress.bitrateBps));
  media('whipcast_rtp_packets_lost', 'RTP packets lost since each producer/consumer started: ingress from publishers, egress as viewers report it', (s, d) => (d === 'ingress' ? ingressSum(s, 'packetsLost') : s.egress.packetsLost));
  media('whipcast_rtcp_nacks', 'NACKs since each producer/consumer started: ingress = sent to publishers, egress = received from viewers', (s, d) => (d === 'ingress' ? ingressSum(s, 'nackCount') : s.egress.nackCount));
  media('whipcast_rtcp_plis', 'PLIs and FIRs since each producer/consumer started: ingress = sent to publishers, egress = received from viewers', (s, d) =>
    d === 'ingress' ? s.ingress.reduce((sum, t) => sum + t.pliCount + t.firCount, 0) : s.egress.pliCount + s.egress.firCount,
  );
  new Gauge({
    name: 'whipcast_rtt_seconds',
    help: 'Round-trip time: ingress = to publishers (largest), egress = to viewers (mean), of the streams that measure it',
    labelNames: mediaLabels,
    registers: [registry],
    collect() {
      this.reset();
      const rtt = (stats: RoomStats, direction: 'ingress' | 'egress'): number | null => {
        if (direction === 'egress') return stats.egress.roundTripTimeMs;
        const rtts = stats.ingress.map((t) => t.roundTripTimeMs).filter((r): r is number => r !== null);
        return rtts.length > 0 ? Math.max(...rtts) : null;
      };
      for (const direction of ['ingress', 'egress'] as const) {
        const measured = snapshot.streams.map(({ live, stats }) => ({ live, ms: rtt(stats, direction) })).filter((m): m is { live: LiveStream; ms: number } => m.ms !== null);
        if (options.perStreamLabels) {
          for (const { live, ms } of measured) this.set({ direction, app: live.app, stream: live.stream }, ms / 1000);
        } else if (measured.length > 0) {
          const values = measured.map((m) => m.ms / 1000);
          this.set({ direction }, direction === 'ingress' ? Math.max(...values) : values.reduce((a, b) => a + b, 0) / values.length);
        }
      }
    },
  });

  new Gauge({
    name: 'whipcast_ffmpeg_processes',
    help: 'FFmpeg processes running, by role (rtmp bridge, egress, hls, relay, recording)',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of snapshot.ffmpeg) this.inc({ role: f.role });
    },
  });
  new Gauge({
    name: 'whipcast_ffmpeg_cpu_seconds',
    help: 'CPU time (user + system) used so far by the FFmpeg processes running now, by role',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of snapshot.ffmpeg) this.inc({ role: f.role }, f.cpuSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'whipcast_worker_cpu_seconds',
    help: 'CPU time (user + system) used by each mediasoup worker since it started',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of snapshot.workers) this.set({ worker: String(w.index) }, w.cpuMs / 1000);
    },
  });
  new Gauge({
    name: 'whipcast_worker_memory_bytes',
    help: 'Resident memory of each mediasoup worker',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of snapshot.workers) if (w.rssBytes !== undefined) this.set({ worker: String(w.index) }, w.rssBytes);
    },
  });
  new Gauge({
    name: 'whipcast_worker_transports',
    help: 'WebRTC transports (publishers and viewers) each mediasoup worker carries',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of snapshot.workers) this.set({ worker: String(w.index) }, w.transports);
    },
  });
  new Counter({
    name: 'whipcast_auth_denials_total',
    help: 'Requests refused with 401/403, by reason (missing_key, malformed_key, bad_hash, expired, ip, referer, token, domain_type, forbidden, admin_token, other)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of options.denials.entries()) this.inc({ reason }, count);
    },
  });

  // What players measure and report (web-demo/play.html over GET /ws/player, src/http/events.ts).
  const viewerLabels = options.perStreamLabels ? ['app', 'stream'] : [];
  const viewerLatency = new Histogram({
    name: 'whipcast_viewer_latency_seconds',
    help: 'Glass-to-glass latency viewers measure (p50 of each report) and report',
    labelNames: viewerLabels,
    buckets: [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [registry],
  });
  const viewerTtff = new Histogram({
    name: 'whipcast_viewer_ttff_seconds',
    help: 'Time to first frame viewers report (WHEP POST to the first presented frame), once per connection',
    labelNames: viewerLabels,
    buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [registry],
  });

  const takeSnapshot = async (): Promise<Snapshot> => {
    const [streams, workers, ffmpeg] = await Promise.all([
      Promise.all(options.streams.list().map(async (live) => ({ live, stats: await live.room.stats() }))).catch(() => []),
      options.sfu.workerUsage().then((all) => Promise.all(all.map(async (w) => ({ ...w, rssBytes: await rssBytes(w.pid) })))).catch(() => []),
      Promise.all(runningFfmpegs().filter((f) => f.pid !== undefined).map(async (f) => ({ role: f.role, cpuSeconds: await cpuSeconds(f.pid as number) }))),
    ]);
    return { streams, workers, ffmpeg };
  };

  return {
    registry,
    viewerReport: ({ app, stream, latencyMs, ttffMs }) => {
      const labels = options.perStreamLabels ? { app, stream } : {};
      if (latencyMs !== null) viewerLatency.observe(labels, latencyMs / 1000);
      if (ttffMs !== null) viewerTtff.observe(labels, ttffMs / 1000);
    },
    onResponse: (request, reply, done) => {
      requests.inc({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) });
      done();
    },
    plugin: (fastify, _options, done) => {
      fastify.get('/metrics', async (_request, reply) => {
        snapshot = await takeSnapshot();
        return reply.type(registry.contentType).send(await registry.metrics());
      });
      done();
    },
  };
}

/** utime + stime of a process, from /proc/<pid>/stat (undefined when it is gone). */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process, from /proc/<pid>/statm. */
async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const statm = await readFile(`/proc/${pid}/statm`, 'utf8');
    return Number(statm.split(' ')[1]) * PAGE_BYTES;
  } catch {
    return undefined;
  }
}
