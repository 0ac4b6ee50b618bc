// One small JSON record per recording (index/<id>.json, written atomically), and what is done with finished ones:
// finalisation (final playlist name, derived MP4/FLV), recovery after a crash, listing, clip, merge, delete.
// CMAF recordings: FFmpeg writes self-contained fragmented MP4 segments; on commit their ftyp+moov goes to an init
// segment (one per run, shared while identical) and the committed .m4s keeps only the moof+mdat fragments.
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import { renderPlaylist, type PlaylistSegment } from './playlist.js';
import { concatFiles, concatList, fragmentedLayout, probeDuration, probeFragmentedSpan, remux } from './media.js';
import type { RecordingStorage } from './storage.js';
import { expandNaming } from './templates.js';
import { type RecordFormat } from '../config/recording.js';
import { Refusal } from '../core/index.js';

export interface SegmentEntry {
  path: string;
  /** Wall clock of the segment's first frame (ISO). */
  start: string;
  durationSeconds: number;
  bytes: number;
  /** A splice (or a restarted FFmpeg) precedes this segment. */
  discontinuity: boolean;
  /** CMAF: the init segment (ftyp+moov) this .m4s segment needs. */
  init?: string;
}

export interface RecordingFile {
  format: RecordFormat;
  path: string;
  durationSeconds: number;
  bytes: number;
}

export type RecordingStatus = 'recording' | 'finished' | 'failed';

export interface RecordingRecord {
  id: string;
  kind: 'recording' | 'clip' | 'merge';
  domain: string;
  app: string;
  stream: string;
  templateId: string;
  formats: RecordFormat[];
  status: RecordingStatus;
  startedAt: string;
  endedAt?: string;
  files: RecordingFile[];
  segments: SegmentEntry[];
  /** naming.file of the template (final names are expanded from it). */
  fileNaming: string;
  /** Playlist rewritten while recording. */
  livePlaylist?: string;
  /** Where FFmpeg writes the .part segments of this recording (salvaged on recovery). */
  workDir?: string;
  /** Recordings a clip or merge was made from. */
  sources?: string[];
  error?: string;
}

export interface FinaliseHooks {
  fileFinished(record: RecordingRecord, file: RecordingFile): void;
  failed(record: RecordingRecord, reason: string): void;
}

export interface ListFilter {
  app?: string;
  stream?: string;
  from?: Date;
  to?: Date;
}

const REMUX_TIMEOUT_MS = 10 * 60_000;

export function newRecordingId(): string {
  return `rec_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

export function segmentEnd(segment: SegmentEntry): number {
  return Date.parse(segment.start) + segment.durationSeconds * 1000;
}

export function totalDuration(record: RecordingRecord): number {
  return record.segments.reduce((sum, s) => sum + s.durationSeconds, 0);
}

/** A playlist at `playlistKey` referencing the segments by paths relative to it. */
export function playlistText(playlistKey: string, segments: readonly SegmentEntry[], ended: boolean): string {
  const dir = posix.dirname(playlistKey);
  const entries: PlaylistSegment[] = segments.map((s) => ({
    uri: posix.relative(dir, s.path),
    durationSeconds: s.durationSeconds,
    programDateTime: new Date(s.start),
    discontinuity: s.discontinuity,
    init: s.init === undefined ? undefined : posix.relative(dir, s.init),
  }));
  return renderPlaylist(entries, ended);
}

/**
 * Commits a fragmented MP4 .part segment (written by FFmpeg, complete or cut by a kill) as `key`: only its complete
 * moof+mdat fragments are kept. Its ftyp+moov is the init segment: `reuse` if byte-identical, else a new
 * `{UnixTimestamp}_init.mp4` next to the segment (written atomically before the segment appears). Undefined when the
 * file holds no complete fragment (the .part is then left to the caller).
 */
export async function commitFragmented(storage: RecordingStorage, part: string, key: string, unixTimestamp: number, reuse?: string): Promise<{ init: string; bytes: number } | undefined> {
  const layout = await fragmentedLayout(storage.localPath(part));
  if (!layout) return undefined;
  let init = reuse !== undefined && (await storage.read(reuse).then((b) => b.equals(layout.init), () => false)) ? reuse : undefined;
  for (let n = 0; init === undefined; n++) {
    const dir = posix.dirname(key);
    const candidate = `${dir === '.' ? '' : `${dir}/`}${Math.floor(unixTimestamp)}_init${n === 0 ? '' : `_${n}`}.mp4`;
    const existing = await storage.read(candidate).catch(() => undefined);
    if (existing === undefined) await storage.write(candidate, layout.init);
    if (existing === undefined || existing.equals(layout.init)) init = candidate;
  }
  const temp = `${part.replace(/\.part$/, '')}.m4s.tmp`;
  await concatFiles(storage.localPath(temp), [{ path: storage.localPath(part), start: layout.mediaStart, end: layout.mediaEnd }]);
  await storage.commit(temp, key);
  await storage.delete(part);
  return { init, bytes: layout.mediaEnd - layout.mediaStart };
}

export class RecordingIndex {
  private readonly records = new Map<string, RecordingRecord>();

  constructor(
    readonly storage: RecordingStorage,
    private readonly logger: Logger,
  ) {}

  async load(): Promise<void> {
    for (const key of await this.storage.list('index')) {
      if (!key.endsWith('.json')) continue;
      try {
        const record = JSON.parse((await this.storage.read(key)).toString('utf8')) as RecordingRecord;
        this.records.set(record.id, record);
      } catch (error) {
        this.logger.error({ key, err: (error as Error).message }, 'unreadable recording index entry skipped');
      }
    }
  }

  async save(record: RecordingRecord): Promise<void> {
    this.records.set(record.id, record);
    await this.storage.write(`index/${record.id}.json`, JSON.stringify(record, null, 1));
  }

  get(id: string): RecordingRecord | undefined {
    return this.records.get(id);
  }

  list(filter: ListFilter = {}): RecordingRecord[] {
    return [...this.records.values()]
      .filter((r) => (filter.app === undefined || r.app === filter.app) && (filter.stream === undefined || r.stream === filter.stream))
      .filter((r) => {
        const start = Date.parse(r.startedAt);
        const end = r.endedAt ? Date.parse(r.endedAt) : Date.now();
        return (filter.to === undefined || start <= filter.to.getTime()) && (filter.from === undefined || end >= filter.from.getTime());
      })
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /** Writes the recording's in-progress playlist (no ENDLIST) and its index entry. */
  async checkpoint(record: RecordingRecord): Promise<void> {
    if (record.livePlaylist) await this.storage.write(record.livePlaylist, playlistText(record.livePlaylist, record.segments, false));
    await this.save(record);
  }

  /**
   * A recording is over: the playlist gets its final name, MP4/FLV are remuxed from the committed segments (and
   * checked with ffprobe), segments are removed if no playlist format was asked for.
   */
  async finalise(record: RecordingRecord, hooks: FinaliseHooks): Promise<RecordingRecord> {
    const last = record.segments.at(-1);
    if (!last) {
      record.status = 'failed';
      record.error = 'no media was recorded';
      record.endedAt = new Date().toISOString();
      if (record.livePlaylist) await this.storage.delete(record.livePlaylist);
      record.livePlaylist = undefined;
      await this.save(record);
      hooks.failed(record, record.error);
      return record;
    }
    const end = new Date(segmentEnd(last));
    record.endedAt = end.toISOString();
    const base = expandNaming(record.fileNaming, { app: record.app, stream: record.stream, start: new Date(record.startedAt), end });
    const duration = totalDuration(record);
    const files: RecordingFile[] = [];
    try {
      if (record.formats.includes('m3u8') || record.formats.includes('cmaf')) {
        const key = `${base}.m3u8`;
        await this.storage.write(key, playlistText(key, record.segments, true));
        const bytes = record.segments.reduce((sum, s) => sum + s.bytes, 0);
        files.push({ format: record.formats.includes('cmaf') ? 'cmaf' : 'm3u8', path: key, durationSeconds: duration, bytes });
      }
      for (const format of ['mp4', 'flv'] as const) {
        if (!record.formats.includes(format)) continue;
        files.push(await this.derive(record, `${base}.${format}`, format));
      }
    } catch (error) {
      record.status = 'failed';
      record.error = (error as Error).message;
      record.files = files;
      await this.save(record);
      hooks.failed(record, record.error);
      return record;
    }
    if (!record.formats.includes('m3u8') && !record.formats.includes('cmaf')) {
      for (const segment of record.segments) await this.storage.delete(segment.path);
      record.segments = []; // only the derived files remain
    }
    if (record.livePlaylist) await this.storage.delete(record.livePlaylist);
    record.livePlaylist = undefined;
    record.files = files;
    record.status = 'finished';
    await this.save(record);
    for (const file of files) hooks.fileFinished(record, file);
    return record;
  }

  private async derive(record: RecordingRecord, key: string, format: 'mp4' | 'flv'): Promise<RecordingFile> {
    const listKey = `.work/concat-${record.id}-${format}.txt`;
    const temp = `${key}.part`;
    // CMAF: each run (same init, no discontinuity) becomes one fragmented MP4 (init + its segments, byte for byte);
    // the concat demuxer then lays the runs one after the other like TS segments.
    const runs: string[] = [];
    try {
      let inputs = record.segments.map((s) => this.storage.localPath(s.path));
      if (record.segments.some((s) => s.init !== undefined)) {
        const groups: SegmentEntry[][] = [];
        record.segments.forEach((s, i) => {
          const group = groups.at(-1);
          if (group && i > 0 && !s.discontinuity && s.init === record.segments[i - 1]?.init) group.push(s);
          else groups.push([s]);
        });
        for (const [n, group] of groups.entries()) {
          const runKey = `.work/concat-${record.id}-${format}-${n}.mp4`;
          runs.push(runKey);
          const init = group[0]?.init;
          await concatFiles(this.storage.localPath(runKey), [...(init ? [this.storage.localPath(init)] : []), ...group.map((s) => this.storage.localPath(s.path))]);
        }
        inputs = runs.map((k) => this.storage.localPath(k));
      }
      await this.storage.write(listKey, concatList(inputs));
      await remux(this.storage.localPath(listKey), this.storage.localPath(temp), format, REMUX_TIMEOUT_MS);
      const durationSeconds = await probeDuration(this.storage.localPath(temp));
      if (durationSeconds === undefined) throw new Error(`the remuxed ${format} file cannot be read back`);
      await this.storage.commit(temp, key);
      return { format, path: key, durationSeconds, bytes: (await this.storage.stat(key))?.bytes ?? 0 };
    } finally {
      await this.storage.delete(listKey);
      await this.storage.delete(temp);
      for (const run of runs) await this.storage.delete(run);
    }
  }

  /**
   * Recordings left "recording" by a killed server: committed segments are kept, readable .part segments are
   * salvaged (appended in FFmpeg's file order), then each is finalised.
   */
  async recover(hooks: FinaliseHooks, segmentKey: (record: RecordingRecord, sequence: number, start: Date) => string): Promise<RecordingRecord[]> {
    const recovered: RecordingRecord[] = [];
    for (const record of this.list().filter((r) => r.status === 'recording' && r.kind === 'recording')) {
      this.logger.info({ id: record.id }, 'recovering a recording interrupted by a server stop');
      if (record.workDir) {
        const parts = (await this.storage.list(record.workDir)).filter((k) => k.endsWith('.part')).sort();
        const cmaf = record.formats.includes('cmaf');
        let previousRun: string | undefined;
        for (const part of parts) {
          const last = record.segments.at(-1);
          const start = new Date(last ? segmentEnd(last) : Date.parse(record.startedAt));
          const key = segmentKey(record, record.segments.length, start);
          if (cmaf) {
            const fmp4Key = key.replace(/\.ts$/, '') + '.m4s';
            const committed = await commitFragmented(this.storage, part, fmp4Key, start.getTime() / 1000, last?.init);
            // The span of the complete fragments kept (init + .m4s): ffprobe on the cut .part would count its cut fragment too.
            const probeKey = `${part.replace(/\.part$/, '')}.probe.mp4`;
            if (committed) await concatFiles(this.storage.localPath(probeKey), [this.storage.localPath(committed.init), this.storage.localPath(fmp4Key)]);
            const durationSeconds = committed ? await probeFragmentedSpan(this.storage.localPath(probeKey)) : undefined;
            await this.storage.delete(probeKey);
            if (!committed || durationSeconds === undefined) {
              await this.storage.delete(part);
              if (committed) await this.storage.delete(fmp4Key);
              continue;
            }
            // Another FFmpeg run (or attempt) restarted the timestamps: a discontinuity between its parts and the previous ones.
            const run = /(r\d+a\d+)_\d+\.mp4\.part$/.exec(part)?.[1];
            const discontinuity = previousRun !== undefined && run !== previousRun;
            previousRun = run;
            record.segments.push({ path: fmp4Key, start: start.toISOString(), durationSeconds, bytes: committed.bytes, discontinuity, init: committed.init });
            continue;
          }
          const durationSeconds = await probeDuration(this.storage.localPath(part));
          if (durationSeconds === undefined) {
            await this.storage.delete(part);
            continue;
          }
          await this.storage.commit(part, key);
          record.segments.push({ path: key, start: start.toISOString(), durationSeconds, bytes: (await this.storage.stat(key))?.bytes ?? 0, discontinuity: false });
        }
        await this.storage.delete(record.workDir);
      }
      recovered.push(await this.finalise(record, hooks));
    }
    return recovered;
  }

  /** A new playlist of the segments of one recording that overlap [from, to]. */
  async clip(id: string, from: Date, to: Date): Promise<RecordingRecord> {
    const source = this.get(id);
    if (!source) throw new Refusal('not-found', `recording ${id} not found`);
    if (from.getTime() >= to.getTime()) throw new Refusal('invalid', 'from must be before to');
    const segments = source.segments.filter((s) => Date.parse(s.start) < to.getTime() && segmentEnd(s) > from.getTime());
    if (segments.length === 0) throw new Refusal('invalid', `recording ${id} has no segment between ${from.toISOString()} and ${to.toISOString()}`);
    return this.derived('clip', source, [source.id], segments.map((s, i) => ({ ...s, discontinuity: i > 0 && s.discontinuity })));
  }

  /** A new playlist concatenating recordings (a discontinuity between each). */
  async merge(ids: string[]): Promise<RecordingRecord> {
    const sources = ids.map((id) => {
      const source = this.get(id);
      if (!source) throw new Refusal('not-found', `recording ${id} not found`);
      if (source.segments.length === 0) throw new Refusal('invalid', `recording ${id} has no segments (only derived files) to merge`);
      return source;
    });
    const first = sources[0];
    if (!first || sources.length < 2) throw new Refusal('invalid', 'merge needs at least two recordings');
    const cmaf = sources.map((source) => source.segments.some((s) => s.init !== undefined));
    if (cmaf.some((c) => c !== cmaf[0])) throw new Refusal('invalid', 'cannot merge TS (m3u8) and fMP4 (cmaf) recordings into one playlist');
    const segments = sources.flatMap((source, n) => source.segments.map((s, i) => ({ ...s, discontinuity: i === 0 ? n > 0 : s.discontinuity })));
    return this.derived('merge', first, ids, segments);
  }

  private async derived(kind: 'clip' | 'merge', like: RecordingRecord, sources: string[], segments: SegmentEntry[]): Promise<RecordingRecord> {
    const id = newRecordingId();
    const key = `${kind}s/${id}.m3u8`;
    await this.storage.write(key, playlistText(key, segments, true));
    const durationSeconds = segments.reduce((sum, s) => sum + s.durationSeconds, 0);
    const last = segments.at(-1);
    const format = segments.some((s) => s.init !== undefined) ? 'cmaf' : 'm3u8';
    const record: RecordingRecord = {
      id,
      kind,
      domain: like.domain,
      app: like.app,
      stream: like.stream,
      templateId: like.templateId,
      formats: [format],
      status: 'finished',
      startedAt: segments[0]?.start ?? like.startedAt,
      endedAt: last ? new Date(segmentEnd(last)).toISOString() : like.endedAt,
      files: [{ format, path: key, durationSeconds, bytes: segments.reduce((sum, s) => sum + s.bytes, 0) }],
      segments,
      fileNaming: key,
      sources,
    };
    await this.save(record);
    return record;
  }

  /** Removes a recording: its index entry, its files, and its segments no other recording (clip, merge) uses. */
  async delete(id: string): Promise<void> {
    const record = this.get(id);
    if (!record) throw new Refusal('not-found', `recording ${id} not found`);
    if (record.status === 'recording') throw new Refusal('conflict', `recording ${id} is in progress: stop it first`);
    const used = new Set<string>();
    const paths = (r: RecordingRecord) => r.segments.flatMap((s) => (s.init === undefined ? [s.path] : [s.path, s.init]));
    for (const other of this.records.values()) if (other.id !== id) for (const path of paths(other)) used.add(path);
    for (const file of record.files) if (!used.has(file.path)) await this.storage.delete(file.path);
    for (const path of new Set(paths(record))) if (!used.has(path)) await this.storage.delete(path);
    await this.storage.delete(`index/${id}.json`);
    this.records.delete(id);
  }
}
