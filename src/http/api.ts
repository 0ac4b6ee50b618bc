// Health and the control API. /api/* needs the admin token when one is configured; with none it answers
// loopback clients only, so the embedded defaults are safe on a public host (CONTRACT.md).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Sfu } from '../../sfu/index.js';
import { HttpError } from '../../signaling/index.js';
import { sameSecret } from '../auth/Authorizer.js';
import type { StreamRegistry } from '../streams/StreamRegistry.js';
import { describeStream } from '../streams/describe.js';

export interface ApiOptions {
  sfu: Sfu;
  registry: StreamRegistry;
  adminToken: string | undefined;
  isReady: () => boolean;
}

export async function api(fastify: FastifyInstance, options: ApiOptions): Promise<void> {
  fastify.get('/healthz', (_request, reply) => {
    if (!options.isReady()) return reply.code(503).send({ status: 'starting' });
    return reply.send({ status: 'ok', workers: options.sfu.workerCount, streams: options.registry.list().length });
  });

  await fastify.register((admin, _options, done) => {
    admin.addHook('onRequest', (request, _reply, next) => next(adminRefusal(request, options.adminToken)));
    admin.get('/api/streams', async () => ({ streams: await Promise.all(options.registry.list().map(describeStream)) }));
    admin.get('/api/workers', async () => ({ workers: await options.sfu.workerUsage() }));
    done();
  });
}

function adminRefusal(request: FastifyRequest, token: string | undefined): HttpError | undefined {
  if (token === undefined) {
    return isLoopback(request.socket.remoteAddress ?? '') ? undefined : new HttpError(403, 'the control API answers loopback clients only until an admin token is configured');
  }
  const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (given === undefined) return new HttpError(401, 'the control API requires Authorization: Bearer <admin token>');
  return sameSecret(given, token) ? undefined : new HttpError(403, 'invalid admin token');
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
