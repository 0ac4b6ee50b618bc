// /api/sessions: the WHIP publishers' and WHEP viewers' session resources, and closing one (kicking a viewer).
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { Refusal } from '../../core/index.js';
import type { SessionStore } from '../../../signaling/index.js';

export interface SessionsApiOptions {
  sessions: SessionStore;
}

const Session = Type.Object({ id: Type.String(), kind: Type.String(), app: Type.String(), stream: Type.String(), location: Type.String(), iceState: Type.String() });
const IdParams = Type.Object({ id: Type.String() });
const tags = ['sessions'];

export function sessions(fastify: FastifyInstance, options: SessionsApiOptions, done: () => void): void {
  const store = options.sessions;
  fastify.get('/api/sessions', { schema: { tags, summary: 'WHIP and WHEP session resources', response: { 200: Type.Object({ sessions: Type.Array(Session) }) } } }, () => ({
    sessions: store.list().map((s) => ({ id: s.id, kind: s.kind, app: s.app, stream: s.stream, location: s.location, iceState: s.peer.iceState })),
  }));
  fastify.delete<{ Params: Static<typeof IdParams> }>('/api/sessions/:id', { schema: { tags, summary: 'Close a session: kick a WHEP viewer (or a WHIP publisher)', params: IdParams } }, (request, reply) => {
    const session = store.list().find((s) => s.id === request.params.id);
    if (!session) throw new Refusal('not-found', `no session ${request.params.id}`);
    session.peer.close('kicked by the control API');
    return reply.code(204).send();
  });
  done();
}
