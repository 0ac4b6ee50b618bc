// GET /healthz (public, outside the admin rule): load balancers and orchestrators ask it whether to send traffic.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Sfu } from '../../../sfu/index.js';
import type { StreamRegistry } from '../../streams/StreamRegistry.js';

export interface HealthOptions {
  sfu: Sfu;
  registry: StreamRegistry;
  isReady: () => boolean;
}

const Health = Type.Object({ status: Type.String(), workers: Type.Optional(Type.Integer()), streams: Type.Optional(Type.Integer()) });

export function health(fastify: FastifyInstance, options: HealthOptions, done: () => void): void {
  fastify.get('/healthz', { schema: { summary: 'Ready (200) or still starting (503)', response: { 200: Health, 503: Health } } }, (_request, reply) => {
    // A state, not an error: a starting server is healthy but not ready, and says so in the same shape.
    if (!options.isReady()) return reply.code(503).send({ status: 'starting' });
    return reply.send({ status: 'ok', workers: options.sfu.workerCount, streams: options.registry.list().length });
  });
  done();
}
