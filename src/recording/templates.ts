// Which recording template applies to a stream (exact > app + "*" > "*" + "*"), and how its files are named.
// The templates themselves (shape, defaults, ranges) are part of the configuration: src/config/recording.ts.
import type { RecordTemplate } from '../config/recording.js';

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
