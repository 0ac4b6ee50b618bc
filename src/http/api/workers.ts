// /api/workers: the mediasoup worker processes, to see how the load spreads and what each costs.
import type { FastifyInstance } from 'fastify';
import type { Sfu } from '../../../sfu/index.js';

export interface WorkersApiOptions {
  sfu: Sfu;
}

export function workers(fastify: FastifyInstance, options: WorkersApiOptions, done: () => void): void {
  fastify.get('/api/workers', { schema: { tags: ['workers'], summary: 'mediasoup workers: pid, transports, CPU' } }, async () => ({ workers: await options.sfu.workerUsage() }));
  done();
}
