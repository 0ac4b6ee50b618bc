// /api/record-templates and /api/recordings: recording templates CRUD, manual commands, the index (list, get,
// clip, merge, delete). Template ranges are checked by validateTemplate so a 400 names field and range.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { Refusal } from '../../core/index.js';
import type { RecordingService } from '../../recording/RecordingService.js';

export interface RecordingsApiOptions {
  recording: RecordingService;
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const CommandParams = Type.Object({
  app: Type.String({ minLength: 1 }),
  stream: Type.String({ minLength: 1 }),
  command: Type.Union([Type.Literal('start'), Type.Literal('stop'), Type.Literal('restart'), Type.Literal('cancel_delay')]),
});
const CommandBody = Type.Union([Type.Object({ templateId: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false }), Type.Null()]);
const ListQuery = Type.Object({
  app: Type.Optional(Type.String()),
  stream: Type.Optional(Type.String()),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
});
const ClipBody = Type.Object({ id: Type.String({ minLength: 1 }), from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }, { additionalProperties: false });
const MergeBody = Type.Object({ ids: Type.Array(Type.String({ minLength: 1 }), { minItems: 2, maxItems: 100 }) }, { additionalProperties: false });
/** Shape and ranges are checked by validateTemplate (readable messages); here only "an object". */
const TemplateBody = Type.Object({}, { additionalProperties: true });
type Id = { Params: Static<typeof IdParams> };
const tags = ['recordings'];

function date(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const value = new Date(text);
  if (Number.isNaN(value.getTime())) throw new Refusal('invalid', `${name} must be an ISO date-time, got ${text}`);
  return value;
}

export function recordings(fastify: FastifyInstance, options: RecordingsApiOptions, done: () => void): void {
  const { recording } = options;

  fastify.get('/api/record-templates', { schema: { tags, summary: 'Record templates' } }, () => ({ templates: recording.listTemplates() }));
  fastify.get<Id>('/api/record-templates/:id', { schema: { tags, summary: 'One record template', params: IdParams } }, (request) => {
    const template = recording.getTemplate(request.params.id);
    if (!template) throw new Refusal('not-found', `record template ${request.params.id} not found`);
    return template;
  });
  fastify.put<Id & { Body: Static<typeof TemplateBody> }>('/api/record-templates/:id', { schema: { tags, summary: 'Add or replace a record template', params: IdParams, body: TemplateBody } }, (request) =>
    recording.putTemplate({ ...(request.body as Record<string, unknown>), id: request.params.id }),
  );
  fastify.delete<Id>('/api/record-templates/:id', { schema: { tags, summary: 'Remove a record template', params: IdParams } }, (request, reply) => {
    if (!recording.deleteTemplate(request.params.id)) throw new Refusal('not-found', `record template ${request.params.id} not found`);
    return reply.code(204).send();
  });

  fastify.post<{ Params: Static<typeof CommandParams>; Body: Static<typeof CommandBody> }>(
    '/api/recordings/:app/:stream/:command',
    { schema: { tags, summary: "A live stream's recording: start, stop, restart, or cancel_delay (finalise now instead of waiting for a splice)", params: CommandParams, body: CommandBody } },
    async (request) => {
      const { app, stream, command } = request.params;
      const state = await recording.command(app, stream, command, request.body?.templateId);
      return { app, stream, command, recording: state ?? null };
    },
  );

  fastify.get<{ Querystring: Static<typeof ListQuery> }>('/api/recordings', { schema: { tags, summary: 'Recordings, by stream and time range', querystring: ListQuery } }, (request) => {
    const { app, stream, from, to } = request.query;
    return { recordings: recording.index.list({ app, stream, from: date(from, 'from'), to: date(to, 'to') }) };
  });
  fastify.get<Id>('/api/recordings/:id', { schema: { tags, summary: 'One recording', params: IdParams } }, (request) => {
    const record = recording.index.get(request.params.id);
    if (!record) throw new Refusal('not-found', `recording ${request.params.id} not found`);
    return record;
  });
  fastify.post<{ Body: Static<typeof ClipBody> }>('/api/recordings/clip', { schema: { tags, summary: 'A new recording: the segments of one that overlap a time range', body: ClipBody } }, async (request, reply) =>
    reply.code(201).send(await recording.index.clip(request.body.id, date(request.body.from, 'from') ?? new Date(0), date(request.body.to, 'to') ?? new Date())),
  );
  fastify.post<{ Body: Static<typeof MergeBody> }>('/api/recordings/merge', { schema: { tags, summary: 'A new recording: several concatenated', body: MergeBody } }, async (request, reply) =>
    reply.code(201).send(await recording.index.merge(request.body.ids)),
  );
  fastify.delete<Id>('/api/recordings/:id', { schema: { tags, summary: 'Delete a recording and the segments no other recording uses', params: IdParams } }, async (request, reply) => {
    await recording.index.delete(request.params.id);
    return reply.code(204).send();
  });
  done();
}
