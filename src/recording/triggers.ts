// Deciding whether a stream is recorded: the ingest parameter record_config and the on-demand callback.
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import type { SignedPoster } from '../notify/SignedPoster.js';
import type { RecordFormat } from '../config/recording.js';

/** NeedRecord from the ingest query's record_config ({"NeedRecord":true}); undefined when absent or unreadable. */
export function needRecord(query: Record<string, string>): boolean | undefined {
  const raw = query.record_config;
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    try {
      parsed = JSON.parse(decodeURIComponent(raw)); // encoders sometimes double-encode
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const value = (parsed as Record<string, unknown>).NeedRecord;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 1) return true;
  if (value === 'false' || value === 0) return false;
  return undefined;
}

export const OnDemandAnswerSchema = Type.Object({
  record: Type.Boolean(),
  intervalMinutes: Type.Optional(Type.Number({ minimum: 15, maximum: 360 })),
  formats: Type.Optional(Type.Array(Type.String())),
});

export interface OnDemandDecision {
  record: boolean;
  formats: RecordFormat[];
  cycleMinutes?: number;
  /** Why, for the log. */
  reason: string;
}

/** What an on-demand answer means for a template's formats; undefined when the answer is invalid. */
export function interpretOnDemandAnswer(answer: unknown, templateFormats: readonly RecordFormat[]): OnDemandDecision | undefined {
  if (!Value.Check(OnDemandAnswerSchema, answer)) return undefined;
  if (!answer.record) return { record: false, formats: [], reason: 'on-demand callback answered record=false' };
  const formats = answer.formats ? templateFormats.filter((f) => answer.formats?.includes(f)) : [...templateFormats];
  if (formats.length === 0) return { record: false, formats, reason: 'no format in common between the on-demand answer and the template' };
  return { record: true, formats, cycleMinutes: answer.intervalMinutes, reason: 'on-demand callback answered record=true' };
}

export interface OnDemandRequest {
  event: 'record_request';
  domain: string;
  app: string;
  stream: string;
  templateId: string;
  formats: RecordFormat[];
}

/** Asks the on-demand URL (a signed POST); failure, timeout or an invalid answer falls back to the configured default. */
export async function askOnDemand(
  poster: SignedPoster,
  url: string | undefined,
  request: OnDemandRequest,
  timeoutMs: number,
  fallback: 'record' | 'skip',
): Promise<OnDemandDecision> {
  const fallbackDecision = (why: string): OnDemandDecision => ({ record: fallback === 'record', formats: request.formats, reason: `${why}; onDemandDefault=${fallback}` });
  if (!url) return fallbackDecision('no recording.onDemandUrl configured');
  try {
    const response = await poster.post(url, JSON.stringify(request), timeoutMs);
    if (!response.ok) {
      await response.body?.cancel();
      return fallbackDecision(`on-demand callback answered ${response.status}`);
    }
    const answer: unknown = await response.json();
    return interpretOnDemandAnswer(answer, request.formats) ?? fallbackDecision('on-demand callback answer is invalid');
  } catch (error) {
    return fallbackDecision(`on-demand callback failed: ${(error as Error).message}`);
  }
}
