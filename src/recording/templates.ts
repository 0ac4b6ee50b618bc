// Recording templates (seed 004): which streams are recorded, in which formats, cut how, named how.
// The typebox schema gives the shape and defaults; validateTemplate() adds the ranges with messages that name the
// field and its range, the same at config load and over the API.
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

export interface StreamIdentity {
  host: string;
  app: string;
  stream: string;
}

/** The template that applies to a stream: exact app+stream > app+* > *+* ; at equal names an exact domain beats *. */
export function matchTemplate(templates: readonly RecordTemplate[], target: StreamIdentity): RecordTemplate | undefined {
  const host = target.host.replace(/:\d+$/, '').toLowerCase();
  let best: RecordTemplate | undefined;
  let bestScore = -1;
  for (const template of templates) {
    const domainExact = template.domain.toLowerCase() === host;
    if (!domainExact && template.domain !== '*') continue;
    if (template.app !== '*' && template.app !== target.app) continue;
    if (template.stream !== '*' && template.stream !== target.stream) continue;
    const score = (template.app !== '*' ? 4 : 0) + (template.stream !== '*' ? 2 : 0) + (domainExact ? 1 : 0);
    if (score > bestScore) {
      best = template;
      bestScore = score;
    }
  }
  return best;
}

/** Filesystem-safe UTC time used for {EscapedStartTime}/{EscapedEndTime}: 2026-11-22-08-15-30. */
export function escapeTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace(/[T:]/g, '-');
}

export interface NamingValues {
  app: string;
  stream: string;
  start?: Date;
  end?: Date;
  /** Literal text for {EscapedEndTime} while the end is not known yet. */
  endText?: string;
  unixTimestamp?: number;
  sequence?: number;
}

/** Expands a naming pattern; names are sanitised so a stream name can never leave the recording directory. */
export function expandNaming(pattern: string, values: NamingValues): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.~-]/g, '_').replace(/^\.+/, '_');
  const replacements: Record<string, string> = {
    AppName: safe(values.app),
    StreamName: safe(values.stream),
    EscapedStartTime: values.start ? escapeTime(values.start) : '',
    EscapedEndTime: values.end ? escapeTime(values.end) : (values.endText ?? ''),
    UnixTimestamp: values.unixTimestamp !== undefined ? String(Math.floor(values.unixTimestamp)) : '',
    Sequence: values.sequence !== undefined ? String(values.sequence) : '',
  };
  return pattern.replace(/\{(\w+)\}/g, (whole, name: string) => replacements[name] ?? whole);
}
