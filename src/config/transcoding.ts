// The `transcoding` section of the server configuration: transcoding templates (what a rendition is encoded as),
// ladders (which templates apply to which streams), the server-wide rendition limit and the on-demand idle time.
// Checked when the config is loaded and when the control API changes a template; ranges and choices are refused
// with messages naming the field and what it may be (e.g. "video.bitrateKbps must be 50–20000, got 10").
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { Refusal } from '../core/index.js';

export const H264_PROFILES = ['baseline', 'main', 'high'] as const;
export type H264Profile = (typeof H264_PROFILES)[number];
/** x264's presets (placebo left out: it is for tests of x264, not for live encoding). */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
/** x264's tunes; with any of them the encoder still sends no B-frames (-bf 0). */
export const X264_TUNES = ['zerolatency', 'film', 'animation', 'grain', 'stillimage', 'fastdecode'] as const;
export const TRANSCODE_TRIGGERS = ['on-demand', 'always'] as const;
export type TranscodeTrigger = (typeof TRANSCODE_TRIGGERS)[number];

/** Template ids name renditions: {stream}_{id}. */
export const TEMPLATE_ID_PATTERN = '^[a-z0-9]{1,32}$';

/** A rule field (domain, app or stream): an exact name or "*". Left out: see TranscodeTemplateSchema. */
const RuleName = Type.Optional(Type.String({ minLength: 1 }));

// Ranges and choices are checked by inputProblems (readable messages), the rest of the shape by the schema.
export const TranscodeTemplateSchema = Type.Object(
  {
    id: Type.String({ pattern: TEMPLATE_ID_PATTERN }),
    /** The template's own match. Left out entirely: the template applies where a ladder names it (or, named by no ladder, to every stream). */
    domain: RuleName,
    app: RuleName,
    stream: RuleName,
    trigger: Type.Enum(TRANSCODE_TRIGGERS, { default: 'on-demand' }),
    video: Type.Object(
      {
        /** Either or both; the other follows the source's aspect ratio (even). Never above the source's. */
        width: Type.Optional(Type.Integer()),
        height: Type.Optional(Type.Integer()),
        /** At most the source's; the source's when left out. */
        fps: Type.Optional(Type.Number()),
        bitrateKbps: Type.Integer(),
        /** Key-frame interval. */
        gopSeconds: Type.Number({ default: 1 }),
        profile: Type.Enum(H264_PROFILES, { default: 'baseline' }),
        preset: Type.Enum(X264_PRESETS, { default: 'veryfast' }),
        tune: Type.Enum(X264_TUNES, { default: 'zerolatency' }),
      },
      { additionalProperties: false },
    ),
    audio: Type.Object(
      {
        /** Opus towards WebRTC viewers. */
        opusKbps: Type.Integer({ default: 64 }),
        /** AAC of the rendition's standard-latency side (HLS, HTTP-FLV, relays, recordings). */
        aacKbps: Type.Integer({ default: 96 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type TranscodeTemplate = Static<typeof TranscodeTemplateSchema>;
export type VideoSettings = TranscodeTemplate['video'];

export const LadderSchema = Type.Object(
  {
    domain: RuleName,
    app: RuleName,
    stream: RuleName,
    /** Template ids; each must name a template. */
    templates: Type.Array(Type.String({ pattern: TEMPLATE_ID_PATTERN }), { minItems: 1, uniqueItems: true }),
    /** Also feed the source's own WebRTC delivery as simulcast layers (an RTMP source's: see the RTMP bridge). */
    webrtc: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type Ladder = Static<typeof LadderSchema>;

export const TranscodingConfigSchema = Type.Object(
  {
    templates: Type.Array(TranscodeTemplateSchema, { default: [] }),
    ladders: Type.Array(LadderSchema, { default: [] }),
    /** Renditions running at once on the server (each costs a video encode): over it, 503. */
    maxRenditions: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
    /** An on-demand rendition stops this long after its last viewer left. */
    idleSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),
  },
  { default: {}, additionalProperties: false },
);
export type TranscodingConfig = Static<typeof TranscodingConfigSchema>;

interface NumberRange {
  path: readonly string[];
  min: number;
  max: number;
  integer?: boolean;
  even?: boolean;
}

const NUMBER_RANGES: NumberRange[] = [
  { path: ['video', 'width'], min: 16, max: 7680, integer: true, even: true },
  { path: ['video', 'height'], min: 16, max: 4320, integer: true, even: true },
  { path: ['video', 'fps'], min: 1, max: 120 },
  { path: ['video', 'bitrateKbps'], min: 50, max: 20000, integer: true },
  { path: ['video', 'gopSeconds'], min: 0.5, max: 10 },
  { path: ['audio', 'opusKbps'], min: 16, max: 256, integer: true },
  { path: ['audio', 'aacKbps'], min: 32, max: 320, integer: true },
];

const CHOICES: { path: readonly string[]; choices: readonly string[] }[] = [
  { path: ['trigger'], choices: TRANSCODE_TRIGGERS },
  { path: ['video', 'profile'], choices: H264_PROFILES },
  { path: ['video', 'preset'], choices: X264_PRESETS },
  { path: ['video', 'tune'], choices: X264_TUNES },
];

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function at(value: unknown, path: readonly string[]): unknown {
  let node = value;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  return node;
}

/**
 * Range, choice and presence problems of a template (defaults filled in, shape not yet checked), as sentences
 * naming the field and what it may be; empty when there are none.
 */
function inputProblems(template: unknown): string[] {
  if (!isRecord(template)) return ['a template must be an object'];
  const problems: string[] = [];
  const id = template.id;
  if (typeof id !== 'string' || !new RegExp(TEMPLATE_ID_PATTERN).test(id)) problems.push(`id must be 1–32 characters of a-z and 0-9, got ${JSON.stringify(id)}`);
  if (!isRecord(template.video)) problems.push('video is required: {bitrateKbps, width?, height?, fps?, gopSeconds?, profile?, preset?, tune?}');
  else if (template.video.bitrateKbps === undefined) problems.push('video.bitrateKbps is required (50–20000)');
  for (const { path, min, max, integer, even } of NUMBER_RANGES) {
    const value = at(template, path);
    if (value === undefined) continue;
    const field = path.join('.');
    const range = `${min}–${max}`;
    if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${field} must be a number ${range}, got ${JSON.stringify(value)}`);
    else if (value < min || value > max) problems.push(`${field} must be ${range}, got ${value}`);
    else if (integer && !Number.isInteger(value)) problems.push(`${field} must be a whole number ${range}, got ${value}`);
    else if (even && value % 2 !== 0) problems.push(`${field} must be even (H264 4:2:0), got ${value}`);
  }
  for (const { path, choices } of CHOICES) {
    const value = at(template, path);
    if (value !== undefined && !choices.includes(value as string)) problems.push(`${path.join('.')} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return problems;
}

/** The template with its defaults, or the problems of the input (readable ones first, then the schema's). */
function checkTemplate(input: unknown): { template: TranscodeTemplate; problems: [] } | { template: undefined; problems: string[] } {
  const value = Value.Default(TranscodeTemplateSchema, structuredClone(input ?? {}));
  const problems = inputProblems(value);
  if (problems.length === 0) {
    for (const error of Value.Errors(TranscodeTemplateSchema, value)) problems.push(`${error.instancePath.slice(1).replaceAll('/', '.') || 'template'} ${error.message}`);
  }
  return problems.length === 0 ? { template: value as TranscodeTemplate, problems: [] } : { template: undefined, problems };
}

/** Fills defaults and validates; throws an invalid Refusal naming the fields and their ranges. */
export function validateTranscodeTemplate(input: unknown): TranscodeTemplate {
  const { template, problems } = checkTemplate(input);
  if (!template) throw new Refusal('invalid', problems.slice(0, 5).join('; '));
  return template;
}

/** Problems of the configured templates and ladders (the whole section as given), each prefixed with its place. */
export function transcodingConfigProblems(section: unknown): string[] {
  if (!isRecord(section)) return []; // absent, or not an object: the schema says so
  const problems: string[] = [];
  const ids = new Set<string>();
  const templates = Array.isArray(section.templates) ? section.templates : [];
  templates.forEach((input: unknown, i) => {
    const { template, problems: own } = checkTemplate(input);
    for (const problem of own) problems.push(`/transcoding/templates/${i}: ${problem}`);
    if (template && ids.has(template.id)) problems.push(`/transcoding/templates/${i}: duplicate template id ${template.id}`);
    if (template) ids.add(template.id);
  });
  const ladders = Array.isArray(section.ladders) ? section.ladders : [];
  ladders.forEach((ladder: unknown, i) => {
    const named = at(ladder, ['templates']);
    if (!Array.isArray(named)) return; // the schema says so
    for (const id of named) {
      if (typeof id === 'string' && !ids.has(id)) problems.push(`/transcoding/ladders/${i}/templates: no template ${JSON.stringify(id)} (templates: ${[...ids].join(', ') || 'none'})`);
    }
  });
  return problems;
}
