// GET /metrics in Prometheus text format (prom-client): process metrics and the live streams by ingest protocol
// and transcode path (transcoding costs CPU and latency, so operators watch it). Each server has its own registry.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { StreamRegistry } from '../streams/StreamRegistry.js';

export function metrics(fastify: FastifyInstance, options: { streams: StreamRegistry }, done: () => void): void {
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
  fastify.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  done();
}
