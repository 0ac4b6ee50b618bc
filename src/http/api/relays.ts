// /api/relays: the rules pushing live streams to other RTMP servers; added and removed at run time.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { RelayRuleSchema, type RelayRule } from '../../config/config.js';
import type { RelayManager } from '../../media/RelayManager.js';

export interface RelaysApiOptions {
  relays: RelayManager;
}

const IdParams = Type.Object({ id: Type.String() });
const tags = ['relays'];

export function relays(fastify: FastifyInstance, options: RelaysApiOptions, done: () => void): void {
  const manager = options.relays;
  fastify.get('/api/relays', { schema: { tags, summary: 'Relay rules' } }, () => ({ relays: manager.listRules() }));
  fastify.post<{ Body: RelayRule }>('/api/relays', { schema: { tags, summary: 'Add a relay rule', body: RelayRuleSchema } }, (request, reply) => reply.code(201).send(manager.addRule(request.body)));
  fastify.delete<{ Params: Static<typeof IdParams> }>('/api/relays/:id', { schema: { tags, summary: 'Remove a relay rule', params: IdParams } }, async (request, reply) => {
    await manager.removeRule(request.params.id);
    return reply.code(204).send();
  });
  done();
}
