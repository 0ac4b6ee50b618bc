// The `recording` section of the server configuration.
import { Type, type Static } from 'typebox';
import { RecordTemplateSchema, templateProblems, type RecordTemplate } from './templates.js';

export const RecordingConfigSchema = Type.Object(
  {
    /** Root of the local recording storage (segments, playlists, derived files, the index). */
    directory: Type.String({ minLength: 1, default: './recordings' }),
    templates: Type.Array(RecordTemplateSchema, { default: [] }),
    /** Asked (POST JSON) whether to record a stream whose template has trigger "on-demand". */
    onDemandUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    onDemandTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 3000 }),
    /** What happens when the on-demand URL fails, times out or answers nonsense. */
    onDemandDefault: Type.Union([Type.Literal('record'), Type.Literal('skip')], { default: 'skip' }),
    /** record_started / record_file_finished / record_failed events are POSTed here. */
    callbackUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  },
  { default: {}, additionalProperties: false },
);
export type RecordingConfig = Static<typeof RecordingConfigSchema>;

/** Range and combination problems of the configured templates (the schema only checks their shape). */
export function recordingConfigProblems(config: RecordingConfig): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  config.templates.forEach((template: RecordTemplate, i) => {
    for (const problem of templateProblems(template)) problems.push(`/recording/templates/${i}: ${problem}`);
    if (ids.has(template.id)) problems.push(`/recording/templates/${i}: duplicate template id ${template.id}`);
    ids.add(template.id);
  });
  return problems;
}
