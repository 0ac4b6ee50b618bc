// /api/streams: the live streams (list, one), kicking a publisher, switching between a primary and its backup,
// forbidding a name until a time and resuming it.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { Refusal } from '../../core/index.js';
import type { StreamRegistry } from '../../streams/StreamRegistry.js';
import { describeStream, type StreamExtras } from '../../streams/describe.js';
import { StreamParams } from './names.js';

export interface StreamsApiOptions {
  registry: StreamRegistry;
  /** What other parts of the server add to each stream's description (relay and recording state, HLS). */
  extras: StreamExtras;
}

type Params = { Params: Static<typeof StreamParams> };
const Message = Type.Object({ message: Type.String() });
const Forbidden = Type.Object({ app: Type.String(), stream: Type.String(), until: Type.String({ format: 'date-time' }) });
const ForbidBody = Type.Object(
  { until: Type.Union([Type.String({ format: 'date-time', description: 'ISO date' }), Type.Integer({ minimum: 1, description: 'seconds from now' })]) },
  { additionalProperties: false },
);
const SourceRole = Type.Union([Type.Literal('primary'), Type.Literal('backup')]);
const SourceBody = Type.Object({ role: SourceRole }, { additionalProperties: false });
const tags = ['streams'];

export function streams(fastify: FastifyInstance, options: StreamsApiOptions, done: () => void): void {
  const { registry } = options;
  const liveStream = (app: string, stream: string) => {
    const live = registry.get(app, stream);
    if (!live) throw new Refusal('not-found', `stream ${app}/${stream} is not live`);
    return live;
  };

  fastify.get('/api/streams', { schema: { tags, summary: 'Live streams with their codecs, bitrates, loss, RTT, viewers, uptime, transcode path, relay and recording state' } }, async () => ({
    streams: await Promise.all(registry.list().map((live) => describeStream(live, options.extras))),
  }));
  // One stream also lists each viewer's link (a stats round trip to the worker per viewer: not for every stream at once).
  fastify.get<Params>('/api/streams/:app/:stream', { schema: { tags, summary: 'One live stream, with each WebRTC viewer\'s bandwidth estimate and simulcast layers', params: StreamParams } }, async (request) => {
    const live = liveStream(request.params.app, request.params.stream);
    return { ...(await describeStream(live, options.extras)), viewerLinks: await live.room.viewerLinks() };
  });
  fastify.post<Params>(
    '/api/streams/:app/:stream/kick',
    { schema: { tags, summary: 'Disconnect the publishers and end the stream (they may publish again)', params: StreamParams, response: { 200: Message } } },
    (request) => {
      const { app, stream } = request.params;
      liveStream(app, stream).kick('kicked by the control API');
      return { message: `publisher of ${app}/${stream} kicked` };
    },
  );
  fastify.post<Params & { Body: Static<typeof SourceBody> }>(
    '/api/streams/:app/:stream/source',
    { schema: { tags, summary: 'Switch the publisher viewers get: the primary or the backup', params: StreamParams, body: SourceBody, response: { 200: Type.Object({ activeSource: SourceRole }) } } },
    async (request) => {
      const { app, stream } = request.params;
      const { role } = request.body;
      if (!(await liveStream(app, stream).room.selectSource(role))) throw new Refusal('not-found', `stream ${app}/${stream} has no ${role} publisher`);
      return { activeSource: role };
    },
  );
  fastify.post<Params & { Body: Static<typeof ForbidBody> }>(
    '/api/streams/:app/:stream/forbid',
    { schema: { tags, summary: 'Kick the publisher and refuse publishes of this name (WHIP and RTMP) until a time', params: StreamParams, body: ForbidBody, response: { 200: Type.Object({ ...Forbidden.properties, kicked: Type.Boolean() }) } } },
    (request) => {
      const { until } = request.body;
      const date = typeof until === 'number' ? new Date(Date.now() + until * 1000) : new Date(until);
      if (Number.isNaN(date.getTime())) throw new Refusal('invalid', `until: not a date: ${String(until)}`);
      if (date.getTime() <= Date.now()) throw new Refusal('invalid', `until: ${date.toISOString()} is in the past`);
      const { forbidden, kicked } = registry.forbid(request.params.app, request.params.stream, date);
      return { app: forbidden.app, stream: forbidden.stream, until: forbidden.until.toISOString(), kicked };
    },
  );
  fastify.delete<Params>('/api/streams/:app/:stream/forbid', { schema: { tags, summary: 'Resume: allow publishes of this name again', params: StreamParams } }, (request, reply) => {
    const { app, stream } = request.params;
    if (!registry.resume(app, stream)) throw new Refusal('not-found', `stream ${app}/${stream} is not forbidden`);
    return reply.code(204).send();
  });
  fastify.get('/api/forbidden', { schema: { tags, summary: 'Names whose publishes are refused, and until when', response: { 200: Type.Object({ forbidden: Type.Array(Forbidden) }) } } }, () => ({
    forbidden: registry.forbidden().map((f) => ({ app: f.app, stream: f.stream, until: f.until.toISOString() })),
  }));
  done();
}
