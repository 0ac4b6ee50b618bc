// GET /metrics in Prometheus text format (prom-client): process metrics, the live streams by ingest protocol and
// transcode path (transcoding costs CPU and latency, so operators watch it), relays by state and streams being
// recorded. Each server has its own registry.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RelayManager } from '../relay/RelayManager.js';
import type { StreamRegistry } from '../streams/StreamRegistry.js';

export interface MetricsOptions {
  streams: StreamRegistry;
  relays: RelayManager;
  /** Whether a live stream is being recorded now. */
  isRecorded: (app: string, stream: string) => boolean;
}

export function metrics(fastify: FastifyInstance, options: MetricsOptions, done: () => void): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
  fastify.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  done();
}
