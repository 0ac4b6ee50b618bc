// GET /time: the server's clock, public (no auth), for the demo pages' NTP-style offset estimate (web-demo/clock.js,
// docs/architecture.md "Measuring latency"): t1 when the request arrived, t2 when the answer leaves, epoch ms with sub-ms
// resolution.
import type { FastifyInstance } from 'fastify';

const now = (): number => performance.timeOrigin + performance.now();

export function time(fastify: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
  fastify.addHook('onRequest', (request, _reply, next) => {
    (request as { receivedAt?: number }).receivedAt = now();
    next();
  });
  fastify.get('/time', { schema: { hide: true } }, (request, reply) => {
    const t1 = (request as { receivedAt?: number }).receivedAt ?? now();
    void reply.header('cache-control', 'no-store');
    return reply.send({ t1, t2: now() });
  });
  done();
}
