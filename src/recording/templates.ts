// How recording files are named. Which template applies to a stream is src/core/match.ts's bestMatch; the
// templates themselves (shape, defaults, ranges) are part of the configuration: src/config/recording.ts.

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
