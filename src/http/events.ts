// Live feeds over WebSocket (issue 6):
// - GET /api/events (admin, like /api, with the token also as ?token=): every second a snapshot of the live streams
//   (what GET /api/streams returns) with the latency their viewers report.
// - GET /ws/player (public): players (play.html) report their measured glass-to-glass latency and time to first
//   frame. Every message is validated; messages are size- and rate-capped; garbage is ignored, persistent abuse
//   closes the socket. Reports are kept only for live streams, a bounded number per stream, and expire.
import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { STREAM_NAME_PATTERN, streamPath } from '../core/index.js';
import type { StreamRegistry } from '../streams/StreamRegistry.js';
import { describeStream, type StreamExtras } from '../streams/describe.js';
import { adminGuard, type AdminGuardOptions } from './adminGuard.js';

/** What a player sends. */
export const ViewerReportSchema = Type.Object(
  {
    app: Type.String({ pattern: STREAM_NAME_PATTERN, maxLength: 128 }),
    stream: Type.String({ pattern: STREAM_NAME_PATTERN, maxLength: 128 }),
    latencyP50Ms: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 600_000 }), Type.Null()])),
    latencyP95Ms: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 600_000 }), Type.Null()])),
    ttffMs: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 600_000 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type ViewerReport = Static<typeof ViewerReportSchema>;

export interface StoredReport {
  /** One id per player connection. */
  viewer: number;
  at: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  ttffMs: number | null;
}

/** Per live stream, its viewers' latest reports. */
export interface ViewerLatency {
  viewers: number;
  /** Median of the viewers' p50, largest of their p95, median TTFF (null when none reported it). */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  ttffMs: number | null;
  reports: StoredReport[];
}

export interface EventsOptions extends AdminGuardOptions {
  registry: StreamRegistry;
  extras: StreamExtras;
  /** Called with each accepted report; ttffMs only the first time a viewer connection reports one. */
  onReport?: (report: { app: string; stream: string; latencyMs: number | null; ttffMs: number | null }) => void;
  /** Snapshot period (default 1000 ms). */
  intervalMs?: number;
}

/** The parts of a `ws` WebSocket used here (the project does not install @types/ws). */
interface Socket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void;
  on(event: 'close', listener: () => void): void;
}

export const MAX_MESSAGE_BYTES = 1024;
/** Reports accepted per connection: a burst of 3, then one every 1 s. */
const RATE_BURST = 3;
const RATE_PER_MS = 1 / 1000;
/** Messages dropped (garbage or over the rate) before the socket is closed. */
const MAX_DROPPED = 50;
const REPORTS_PER_STREAM = 100;
const REPORT_TTL_MS = 15_000;
const MAX_PLAYER_SOCKETS = 10_000;

const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
};
const known = (values: (number | null)[]): number[] => values.filter((v): v is number => v !== null);

/** The last report of each viewer, per live stream, bounded and expiring. */
export class ViewerReports {
  private readonly byStream = new Map<string, Map<number, StoredReport>>();

  add(app: string, stream: string, report: StoredReport): void {
    const key = streamPath({ app, stream });
    let reports = this.byStream.get(key);
    if (!reports) this.byStream.set(key, (reports = new Map<number, StoredReport>()));
    reports.delete(report.viewer); // re-insert: Map order = oldest first
    reports.set(report.viewer, report);
    while (reports.size > REPORTS_PER_STREAM) reports.delete(reports.keys().next().value as number);
  }

  /** Drops expired reports and those of streams no longer live. */
  prune(isLive: (key: string) => boolean, now = Date.now()): void {
    for (const [key, reports] of this.byStream) {
      if (!isLive(key)) {
        this.byStream.delete(key);
        continue;
      }
      for (const [viewer, r] of reports) if (r.at < now - REPORT_TTL_MS) reports.delete(viewer);
      if (reports.size === 0) this.byStream.delete(key);
    }
  }

  of(app: string, stream: string): ViewerLatency | null {
    const reports = [...(this.byStream.get(streamPath({ app, stream }))?.values() ?? [])];
    if (reports.length === 0) return null;
    const p95s = known(reports.map((r) => r.latencyP95Ms));
    return {
      viewers: reports.length,
      latencyP50Ms: median(known(reports.map((r) => r.latencyP50Ms))),
      latencyP95Ms: p95s.length > 0 ? Math.max(...p95s) : null,
      ttffMs: median(known(reports.map((r) => r.ttffMs))),
      reports,
    };
  }
}

export async function events(fastify: FastifyInstance, options: EventsOptions): Promise<void> {
  await fastify.register(websocket, { options: { maxPayload: MAX_MESSAGE_BYTES } });
  const { registry } = options;
  const reports = new ViewerReports();
  const watchers = new Set<{ send: (data: string) => void }>();
  let timer: NodeJS.Timeout | undefined;
  let viewerIds = 0;
  let playerSockets = 0;

  const snapshot = async (): Promise<string> => {
    const live = registry.list();
    const keys = new Set(live.map(streamPath));
    reports.prune((key) => keys.has(key));
    const streams = await Promise.all(
      live.map(async (s) => ({ ...(await describeStream(s, options.extras)), viewerLatency: reports.of(s.app, s.stream) })),
    );
    return JSON.stringify({ type: 'snapshot', at: new Date().toISOString(), streams });
  };
  const tick = async (): Promise<void> => {
    if (watchers.size === 0) return;
    const message = await snapshot().catch(() => undefined);
    if (message !== undefined) for (const w of watchers) w.send(message);
  };
  const stopTimer = () => {
    clearInterval(timer);
    timer = undefined;
  };
  fastify.addHook('onClose', (_instance, done) => {
    stopTimer();
    done();
  });

  fastify.get(
    '/api/events',
    {
      websocket: true,
      schema: { hide: true },
      onRequest: adminGuard(options, { tokenInQuery: true }), // on the route only: /ws/player beside it is public
    },
    (raw: unknown) => {
      const socket = raw as Socket;
      const watcher = { send: (data: string) => socket.send(data) };
      watchers.add(watcher);
      socket.on('message', () => undefined); // nothing is read from watchers
      socket.on('close', () => {
        watchers.delete(watcher);
        if (watchers.size === 0) stopTimer();
      });
      void snapshot().then((m) => socket.send(m), () => undefined);
      timer ??= setInterval(() => void tick(), options.intervalMs ?? 1000);
    },
  );

  fastify.get('/ws/player', { websocket: true, schema: { hide: true } }, (raw: unknown) => {
    const socket = raw as Socket;
    if (playerSockets >= MAX_PLAYER_SOCKETS) {
      socket.close(1013, 'too many reporting players');
      return;
    }
    playerSockets++;
    const viewer = ++viewerIds;
    let tokens = RATE_BURST;
    let refilledAt = Date.now();
    let dropped = 0;
    let lastTtff: { key: string; ms: number } | undefined;
    const drop = () => {
      if (++dropped > MAX_DROPPED) socket.close(1008, 'too many invalid or excess messages');
    };
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const now = Date.now();
      tokens = Math.min(RATE_BURST, tokens + (now - refilledAt) * RATE_PER_MS);
      refilledAt = now;
      if (tokens < 1) return drop();
      tokens--;
      if (isBinary) return drop();
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      if (text.length > MAX_MESSAGE_BYTES) return drop();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return drop();
      }
      if (!Value.Check(ViewerReportSchema, parsed)) return drop();
      const { app, stream } = parsed;
      if (!registry.get(app, stream)) return drop(); // only live streams: memory stays bounded by them
      const stored: StoredReport = { viewer, at: now, latencyP50Ms: parsed.latencyP50Ms ?? null, latencyP95Ms: parsed.latencyP95Ms ?? null, ttffMs: parsed.ttffMs ?? null };
      reports.add(app, stream, stored);
      // TTFF once per (re)connection of the player: a new stream or a new value
      const key = streamPath({ app, stream });
      const newTtff = stored.ttffMs !== null && (lastTtff?.key !== key || lastTtff.ms !== stored.ttffMs);
      if (newTtff && stored.ttffMs !== null) lastTtff = { key, ms: stored.ttffMs };
      options.onReport?.({ app, stream, latencyMs: stored.latencyP50Ms, ttffMs: newTtff ? stored.ttffMs : null });
    });
    socket.on('close', () => playerSockets--);
  });
}
