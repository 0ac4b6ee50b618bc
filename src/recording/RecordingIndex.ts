// One small JSON record per recording (index/<id>.json, written atomically), and what is done with finished ones:
// finalisation (final playlist name, derived MP4/FLV), recovery after a crash, listing, clip, merge, delete.
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import { renderPlaylist, type PlaylistSegment } from './playlist.js';
import { concatList, probeDuration, remux } from './media.js';
import type { RecordingStorage } from './storage.js';
import { expandNaming, type RecordFormat } from './templates.js';

export interface SegmentEntry {
  path: string;
  /** Wall clock of the segment's first frame (ISO). */
  start: string;
  durationSeconds: number;
  bytes: number;
  /** A splice (or a restarted FFmpeg) precedes this segment. */
  discontinuity: boolean;
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
  }));
  return renderPlaylist(entries, ended);
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
    await this.storage.write(listKey, concatList(record.segments.map((s) => this.storage.localPath(s.path))));
    const temp = `${key}.part`;
    try {
      await remux(this.storage.localPath(listKey), this.storage.localPath(temp), format, REMUX_TIMEOUT_MS);
      const durationSeconds = await probeDuration(this.storage.localPath(temp));
      if (durationSeconds === undefined) throw new Error(`the remuxed ${format} file cannot be read back`);
      await this.storage.commit(temp, key);
      return { format, path: key, durationSeconds, bytes: (await this.storage.stat(key))?.bytes ?? 0 };
    } finally {
      await this.storage.delete(listKey);
      await this.storage.delete(temp);
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
        for (const part of parts) {
          const durationSeconds = await probeDuration(this.storage.localPath(part));
          if (durationSeconds === undefined) {
            await this.storage.delete(part);
            continue;
          }
          const last = record.segments.at(-1);
          const start = new Date(last ? segmentEnd(last) : Date.parse(record.startedAt));
          const key = segmentKey(record, record.segments.length, start);
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
    if (!source) throw new IndexError(404, `recording ${id} not found`);
    if (from.getTime() >= to.getTime()) throw new IndexError(400, 'from must be before to');
    const segments = source.segments.filter((s) => Date.parse(s.start) < to.getTime() && segmentEnd(s) > from.getTime());
    if (segments.length === 0) throw new IndexError(400, `recording ${id} has no segment between ${from.toISOString()} and ${to.toISOString()}`);
    return this.derived('clip', source, [source.id], segments.map((s, i) => ({ ...s, discontinuity: i > 0 && s.discontinuity })));
  }

  /** A new playlist concatenating recordings (a discontinuity between each). */
  async merge(ids: string[]): Promise<RecordingRecord> {
    const sources = ids.map((id) => {
      const source = this.get(id);
      if (!source) throw new IndexError(404, `recording ${id} not found`);
      if (source.segments.length === 0) throw new IndexError(400, `recording ${id} has no segments (only derived files) to merge`);
      return source;
    });
    const first = sources[0];
    if (!first || sources.length < 2) throw new IndexError(400, 'merge needs at least two recordings');
    const segments = sources.flatMap((source, n) => source.segments.map((s, i) => ({ ...s, discontinuity: i === 0 ? n > 0 : s.discontinuity })));
    return this.derived('merge', first, ids, segments);
  }

  private async derived(kind: 'clip' | 'merge', like: RecordingRecord, sources: string[], segments: SegmentEntry[]): Promise<RecordingRecord> {
    const id = newRecordingId();
    const key = `${kind}s/${id}.m3u8`;
    await this.storage.write(key, playlistText(key, segments, true));
    const durationSeconds = segments.reduce((sum, s) => sum + s.durationSeconds, 0);
    const last = segments.at(-1);
    const record: RecordingRecord = {
      id,
      kind,
      domain: like.domain,
      app: like.app,
      stream: like.stream,
      templateId: like.templateId,
      formats: ['m3u8'],
      status: 'finished',
      startedAt: segments[0]?.start ?? like.startedAt,
      endedAt: last ? new Date(segmentEnd(last)).toISOString() : like.endedAt,
      files: [{ format: 'm3u8', path: key, durationSeconds, bytes: segments.reduce((sum, s) => sum + s.bytes, 0) }],
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
    if (!record) throw new IndexError(404, `recording ${id} not found`);
    if (record.status === 'recording') throw new IndexError(409, `recording ${id} is in progress: stop it first`);
    const used = new Set<string>();
    for (const other of this.records.values()) if (other.id !== id) for (const s of other.segments) used.add(s.path);
    for (const file of record.files) if (!used.has(file.path)) await this.storage.delete(file.path);
    for (const segment of record.segments) if (!used.has(segment.path)) await this.storage.delete(segment.path);
    await this.storage.delete(`index/${id}.json`);
    this.records.delete(id);
  }
}

export class IndexError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}
