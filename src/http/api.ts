// Health and the control API. /api/* needs the admin token when one is configured; with none it answers
// loopback clients only, so the embedded defaults are safe on a public host (CONTRACT.md).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Sfu } from '../../sfu/index.js';
import { HttpError } from '../../signaling/index.js';
import { sameSecret } from '../auth/Authorizer.js';
import { RelayRuleSchema, type RelayRule } from '../config.js';
import type { RelayManager } from '../relay/RelayManager.js';
import type { StreamRegistry } from '../streams/StreamRegistry.js';
import { describeStream, type StreamExtras } from '../streams/describe.js';

export interface ApiOptions {
  sfu: Sfu;
  registry: StreamRegistry;
  relays: RelayManager;
  /** What other parts of the server add to each stream's description (relay and recording state, HLS). */
  extras: StreamExtras;
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
    admin.get('/api/streams', async () => ({ streams: await Promise.all(options.registry.list().map((live) => describeStream(live, options.extras))) }));
    admin.get('/api/relays', () => ({ relays: options.relays.listRules() }));
    admin.post<{ Body: RelayRule }>('/api/relays', { schema: { body: RelayRuleSchema } }, (request, reply) => reply.code(201).send(options.relays.addRule(request.body)));
    admin.delete<{ Params: { id: string } }>('/api/relays/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async (request, reply) => {
      await options.relays.removeRule(request.params.id);
      return reply.code(204).send();
    });
    admin.get('/api/workers', async () => ({ workers: await options.sfu.workerUsage() }));
    done();
  });
}

export function adminRefusal(request: FastifyRequest, token: string | undefined): HttpError | undefined {
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
