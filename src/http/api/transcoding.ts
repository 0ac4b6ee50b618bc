// /api/transcode-templates: transcoding templates (list, get, create or replace, delete), and /api/renditions: the
// renditions running and those refused. Template ranges and choices are checked by validateTranscodeTemplate, so a
// 400 names the field and what it may be.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { LadderSchema, TranscodeTemplateSchema } from '../../config/transcoding.js';
import { Refusal } from '../../core/index.js';
import type { Transcoder } from '../../media/transcoding/Transcoder.js';

export interface TranscodingApiOptions {
  transcoder: Transcoder;
}

/** Any id is looked up (an invalid one is simply not found); PUT names what an id may be. */
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
/** Shape, ranges and choices are checked by validateTranscodeTemplate (readable messages); here only "an object". */
const TemplateBody = Type.Object({}, { additionalProperties: true });
type Id = { Params: Static<typeof IdParams> };
const tags = ['transcoding'];

export function transcoding(fastify: FastifyInstance, options: TranscodingApiOptions, done: () => void): void {
  const { transcoder } = options;
  const found = (id: string) => {
    const template = transcoder.getTemplate(id);
    if (!template) throw new Refusal('not-found', `transcode template ${id} not found`);
    return template;
  };

  fastify.get(
    '/api/transcode-templates',
    { schema: { tags, summary: 'Transcoding templates, and the ladders of the config file', response: { 200: Type.Object({ templates: Type.Array(TranscodeTemplateSchema), ladders: Type.Array(LadderSchema) }) } } },
    () => ({ templates: transcoder.listTemplates(), ladders: transcoder.ladders }),
  );
  fastify.get<Id>('/api/transcode-templates/:id', { schema: { tags, summary: 'One transcoding template', params: IdParams, response: { 200: TranscodeTemplateSchema } } }, (request) => found(request.params.id));
  fastify.put<Id & { Body: Static<typeof TemplateBody> }>(
    '/api/transcode-templates/:id',
    {
      schema: {
        tags,
        summary: 'Add (201) or replace (200) a transcoding template; renditions running keep what they started with',
        params: IdParams,
        body: TemplateBody,
        response: { 200: TranscodeTemplateSchema, 201: TranscodeTemplateSchema },
      },
    },
    (request, reply) => {
      const { template, created } = transcoder.putTemplate({ ...(request.body as Record<string, unknown>), id: request.params.id });
      return reply.code(created ? 201 : 200).send(template);
    },
  );
  fastify.delete<Id>('/api/transcode-templates/:id', { schema: { tags, summary: 'Remove a transcoding template and stop its renditions (409 while a ladder names it)', params: IdParams } }, (request, reply) => {
    if (!transcoder.deleteTemplate(request.params.id)) throw new Refusal('not-found', `transcode template ${request.params.id} not found`);
    return reply.code(204).send();
  });
  fastify.get('/api/renditions', { schema: { tags, summary: 'Renditions running (state, what they encode, which share an FFmpeg) and refusals by reason' } }, () => ({
    renditions: transcoder.list(),
    refusals: Object.fromEntries(transcoder.refusals()),
  }));
  done();
}
