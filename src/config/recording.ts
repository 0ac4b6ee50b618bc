// The `recording` section of the server configuration: recording templates (formats, triggers, segment, cycle and
// splice ranges, naming patterns) and where recordings go. Checked when the config is loaded and when the control
// API changes a template.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { Refusal } from '../core/index.js';

export const RECORD_FORMATS = ['m3u8', 'flv', 'mp4', 'cmaf'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];
export const TRIGGERS = ['auto', 'on-demand', 'ingest-param', 'manual'] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const DEFAULT_FILE_NAMING = 'record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}';
export const DEFAULT_SEGMENT_NAMING = 'record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}';

export const RecordFormatSchema = Type.Union([Type.Literal('m3u8'), Type.Literal('flv'), Type.Literal('mp4'), Type.Literal('cmaf')]);

// Ranges are checked by validateTemplate (readable messages), not by the schema.
export const RecordTemplateSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    domain: Type.String({ minLength: 1, default: '*' }),
    app: Type.String({ minLength: 1, default: '*' }),
    stream: Type.String({ minLength: 1, default: '*' }),
    formats: Type.Array(RecordFormatSchema, { minItems: 1, uniqueItems: true, default: ['m3u8'] }),
    segmentSeconds: Type.Number({ default: 30 }),
    cycleMinutes: Type.Number({ default: 180 }),
    spliceSeconds: Type.Number({ default: 180 }),
    trigger: Type.Union([Type.Literal('auto'), Type.Literal('on-demand'), Type.Literal('ingest-param'), Type.Literal('manual')], { default: 'auto' }),
    naming: Type.Object(
      {
        file: Type.String({ minLength: 1, default: DEFAULT_FILE_NAMING }),
        segment: Type.String({ minLength: 1, default: DEFAULT_SEGMENT_NAMING }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type RecordTemplate = Static<typeof RecordTemplateSchema>;

export const RANGES = {
  segmentSeconds: [5, 30],
  cycleMinutes: [15, 360],
  spliceSeconds: [15, 21600],
} as const;

/** Problems with a template (defaults already filled in), as readable sentences; empty when it is valid. */
export function templateProblems(template: RecordTemplate): string[] {
  const problems: string[] = [];
  for (const [field, [min, max]] of Object.entries(RANGES) as [keyof typeof RANGES, readonly [number, number]][]) {
    const value = template[field];
    if (!(value >= min && value <= max)) problems.push(`${field} must be between ${min} and ${max}, got ${value}`);
  }
  if (template.formats.includes('m3u8') && template.formats.includes('cmaf')) problems.push('formats m3u8 and cmaf cannot be used together');
  for (const [name, pattern] of Object.entries(template.naming)) {
    if (pattern.split('/').some((part) => part === '..' || part === '') || pattern.startsWith('/')) problems.push(`naming.${name} must be a relative path without "..": ${pattern}`);
  }
  return problems;
}

/** Fills defaults and validates; throws an invalid Refusal naming the field (and its range). */
export function validateTemplate(input: unknown): RecordTemplate {
  const value = Value.Default(RecordTemplateSchema, structuredClone(input ?? {}));
  const errors = Value.Errors(RecordTemplateSchema, value);
  if (errors.length > 0) {
    throw new Refusal('invalid', errors.slice(0, 5).map((e) => `${e.instancePath.slice(1).replaceAll('/', '.') || 'template'} ${e.message}`).join('; '));
  }
  const template = value as RecordTemplate;
  const problems = templateProblems(template);
  if (problems.length > 0) throw new Refusal('invalid', problems.join('; '));
  return template;
}


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
