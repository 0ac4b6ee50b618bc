// Records one stream under one template. Per run (a publish, or after a restart), one ManagedFfmpeg copies the
// stream's FLV feed into MPEG-TS segments with FFmpeg's segment muxer, written as .part files in a work directory.
// FFmpeg prints each finished segment on stdout (-segment_list pipe:1, CSV "file,start,end", flushed per segment);
// Node then commits it (fsync, rename to the template's segment name) and rewrites the playlist and the index entry.
// A recording ("file") spans runs: a splice continues it after a discontinuity, a cycle or restart starts another.
// CMAF: the same segment muxer writes fragmented MP4 segments (mp4 format, CMAF_SEGMENT_FORMAT_OPTIONS); each is
// committed as .m4s (fragments only) and its ftyp+moov becomes the init segment the playlist's EXT-X-MAP names.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { feedInput, type FfmpegProcesses, ManagedFfmpeg } from '../media/ffmpeg/ManagedFfmpeg.js';
import type { FeedStart, FlvSource } from '../media/flv/FlvFeed.js';
import { CMAF_SEGMENT_FORMAT_OPTIONS } from './media.js';
import { commitFragmented, newRecordingId, totalDuration, type FinaliseHooks, type RecordingIndex, type RecordingRecord } from './RecordingIndex.js';
import { expandNaming } from './templates.js';
import { type RecordFormat, type RecordTemplate } from '../config/recording.js';

export type RecorderState = 'recording' | 'splicing' | 'finalising' | 'done';

export interface RecorderTarget {
  domain: string;
  app: string;
  stream: string;
}

export interface RecorderHooks extends FinaliseHooks {
  started(record: RecordingRecord): void;
}

export interface RecorderOptions {
  template: RecordTemplate;
  formats: RecordFormat[];
  /** The cycle (may come from an on-demand answer instead of the template). */
  cycleMinutes: number;
  index: RecordingIndex;
  hooks: RecorderHooks;
  ffmpegs: FfmpegProcesses;
  logger: Logger;
}

interface Run {
  ffmpeg: ManagedFfmpeg;
  /** Resolves when the current FFmpeg's stdout is closed (every segment line has been read). */
  stdoutClosed: Promise<void>;
}

/** Segment lines name the .part file; the next one appears only after FFmpeg has closed this one. */
const CLOSE_WAIT_MS = 3000;

export class Recorder {
  readonly workDir: string;
  private current: RecordingRecord | undefined;
  private run: Run | undefined;
  /** The close of the last run (see closeRun). */
  private closing: Promise<void> = Promise.resolve();
  private stateValue: RecorderState = 'recording';
  private spliceTimer: NodeJS.Timeout | undefined;
  /** Segment commits and record rotations, in order. */
  private queue: Promise<void> = Promise.resolve();
  private runs = 0;
  private discontinuity = false;
  private readonly finalising = new Set<Promise<unknown>>();
  private feed: FlvSource | undefined;
  /** CMAF: init segment of the current run (reused while FFmpeg writes the same ftyp+moov). */
  private init: string | undefined;

  constructor(
    readonly target: RecorderTarget,
    private readonly options: RecorderOptions,
  ) {
    this.workDir = `.work/${newRecordingId()}`;
  }

  get state(): RecorderState {
    return this.stateValue;
  }

  get template(): RecordTemplate {
    return this.options.template;
  }

  get formats(): RecordFormat[] {
    return this.options.formats;
  }

  get record(): RecordingRecord | undefined {
    return this.current;
  }

  /**
   * Starts the first recording on a live feed, from its cached GOP: the stream went live a moment ago (its bridge
   * and producers were being set up meanwhile), and what arrived since its last key frame belongs in the file.
   */
  async start(feed: FlvSource): Promise<void> {
    await this.newRecord();
    this.startRun(feed, 'gop');
  }

  /** The stream went offline: finish the run and wait spliceSeconds for it to come back. */
  async streamEnded(onSpliceTimeout: () => void): Promise<void> {
    if (this.stateValue !== 'recording') return;
    this.stateValue = 'splicing';
    await this.closeRun();
    if (this.stateValue !== 'splicing') return;
    this.options.logger.info({ spliceSeconds: this.options.template.spliceSeconds }, 'stream ended: recording waits for it to come back');
    this.spliceTimer = setTimeout(onSpliceTimeout, this.options.template.spliceSeconds * 1000);
  }

  /** The stream is back within the splice timeout: same recording, after a discontinuity. */
  resume(feed: FlvSource): void {
    if (this.stateValue !== 'splicing') return;
    clearTimeout(this.spliceTimer);
    this.stateValue = 'recording';
    this.discontinuity = true;
    this.options.logger.info('stream back within the splice timeout: recording continues');
    this.startRun(feed, 'gop'); // the new publish's feed: its cached GOP is its beginning
  }

  /** Closes the current file now and continues in a new one (API restart). */
  async restart(): Promise<void> {
    if (this.stateValue !== 'recording') return;
    const feed = this.feed;
    await this.closeRun();
    this.rotate();
    await this.queue;
    if (feed && !feed.ended && this.stateValue === 'recording') this.startRun(feed, 'gop');
  }

  /** Finalises now (stop, cancel_delay, splice timeout, shutdown); resolves when every file is finished. */
  async finish(): Promise<void> {
    if (this.stateValue === 'finalising' || this.stateValue === 'done') {
      await Promise.allSettled([...this.finalising]);
      return;
    }
    this.stateValue = 'finalising';
    clearTimeout(this.spliceTimer);
    await this.closeRun();
    await this.queue;
    const record = this.current;
    this.current = undefined;
    if (record) this.track(this.options.index.finalise(record, this.options.hooks));
    await Promise.allSettled([...this.finalising]);
    await this.options.index.storage.delete(this.workDir);
    this.stateValue = 'done';
  }

  private async newRecord(): Promise<void> {
    const now = new Date();
    const { template } = this.options;
    const record: RecordingRecord = {
      id: newRecordingId(),
      kind: 'recording',
      domain: this.target.domain,
      app: this.target.app,
      stream: this.target.stream,
      templateId: template.id,
      formats: this.options.formats,
      status: 'recording',
      startedAt: now.toISOString(),
      files: [],
      segments: [],
      fileNaming: template.naming.file,
      livePlaylist: `${expandNaming(template.naming.file, { app: this.target.app, stream: this.target.stream, start: now, endText: 'recording' })}.m3u8`,
      workDir: this.workDir,
    };
    this.current = record;
    await this.options.index.checkpoint(record);
    this.options.hooks.started(record);
  }

  /** Finalises the current record in the background and opens the next one (cycle, restart). */
  private rotate(): void {
    const previous = this.current;
    this.queue = this.queue.then(async () => {
      if (previous) this.track(this.options.index.finalise(previous, this.options.hooks));
      await this.newRecord();
    }).catch((error: unknown) => this.options.logger.error({ err: error }, 'cannot start the next recording file'));
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => this.options.logger.error({ err: error }, 'recording finalisation failed'));
    this.finalising.add(tracked);
    void tracked.finally(() => this.finalising.delete(tracked));
  }

  private startRun(feed: FlvSource, start: FeedStart): void {
    this.feed = feed;
    const runNumber = ++this.runs;
    const cmaf = this.options.formats.includes('cmaf');
    const extension = cmaf ? 'mp4.part' : 'ts.part';
    this.init = undefined;
    let attempt = 0;
    let stdoutClosed: Promise<void> = Promise.resolve();
    const storage = this.options.index.storage;
    const ffmpeg = new ManagedFfmpeg({
      input: feedInput(feed, start),
      graceful: true,
      ffmpegs: this.options.ffmpegs,
      logger: this.options.logger,
      output: (command) => {
        attempt++;
        // Zero-padded so that recovery can order leftover .part files by name.
        const prefix = `${this.workDir}/r${String(runNumber).padStart(4, '0')}a${String(attempt).padStart(3, '0')}_`;
        const pattern = storage.localPath(`${prefix}%06d.${extension}`);
        mkdirSync(storage.localPath(this.workDir), { recursive: true }); // FFmpeg writes here directly
        let wallBase: number | undefined;
        let firstPts = 0;
        let spawnedAt = Date.now();
        if (attempt > 1) this.discontinuity = true; // FFmpeg restarted: media was lost in between
        command
          .output(pattern)
          .outputOptions(['-map', '0', '-c', 'copy', '-f', 'segment', '-segment_time', String(this.options.template.segmentSeconds),
            ...(cmaf ? ['-segment_format', 'mp4', '-segment_format_options', CMAF_SEGMENT_FORMAT_OPTIONS] : ['-segment_format', 'mpegts']),
            '-reset_timestamps', '0', '-segment_list', 'pipe:1', '-segment_list_type', 'csv']);
        command.on('start', () => {
          spawnedAt = Date.now();
          const child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
          const stdout = child?.stdout;
          if (!stdout) return;
          let buffered = '';
          stdoutClosed = new Promise((resolve) => stdout.once('close', resolve));
          const closedAll = stdoutClosed;
          stdout.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            let newline: number;
            while ((newline = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              const [name, startText, endText] = line.split(',');
              const [startPts, endPts] = [Number(startText), Number(endText)];
              if (!name || !Number.isFinite(startPts) || !Number.isFinite(endPts)) continue;
              if (wallBase === undefined) {
                wallBase = spawnedAt;
                firstPts = startPts;
              }
              const sequence = Number(/_(\d+)\.(?:ts|mp4)\.part$/.exec(basename(name))?.[1]);
              if (!Number.isInteger(sequence)) continue;
              const file = `${prefix}${String(sequence).padStart(6, '0')}.${extension}`;
              const next = `${prefix}${String(sequence + 1).padStart(6, '0')}.${extension}`;
              const wallStart = wallBase + (startPts - firstPts) * 1000;
              this.enqueueCommit(file, next, closedAll, new Date(wallStart), endPts - startPts);
            }
          });
        });
      },
    });
    ffmpeg.on('exit', (reason) => this.options.logger.warn({ reason }, 'recording ffmpeg exited; restarting'));
    this.run = { ffmpeg, get stdoutClosed() { return stdoutClosed; } };
    ffmpeg.start();
  }

  private enqueueCommit(file: string, next: string, closed: Promise<void>, start: Date, durationSeconds: number): void {
    const storage = this.options.index.storage;
    this.queue = this.queue.then(async () => {
      // FFmpeg prints the segment line just before closing the file: wait until it has opened the next one or exited.
      const deadline = Date.now() + CLOSE_WAIT_MS;
      let done = false;
      void closed.then(() => (done = true));
      while (!done && Date.now() < deadline && !(await access(storage.localPath(next)).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 20));
      const record = this.current;
      if (!record) {
        this.options.logger.error({ file }, 'a recorded segment arrived after its recording was finalised: not committed');
        return;
      }
      const name = expandNaming(this.options.template.naming.segment, {
        app: this.target.app,
        stream: this.target.stream,
        start: new Date(record.startedAt),
        unixTimestamp: start.getTime() / 1000,
        sequence: record.segments.length,
      });
      if (file.endsWith('.mp4.part')) {
        // The init segment is per record too: a cycle's new file gets its own.
        const reuse = this.init !== undefined && record.segments.some((s) => s.init === this.init) ? this.init : undefined;
        const committed = await commitFragmented(storage, file, `${name}.m4s`, start.getTime() / 1000, reuse);
        if (!committed) throw new Error('the fMP4 segment holds no complete fragment');
        this.init = committed.init;
        record.segments.push({ path: `${name}.m4s`, start: start.toISOString(), durationSeconds, bytes: committed.bytes, discontinuity: this.discontinuity, init: committed.init });
      } else {
        const key = `${name}.ts`;
        await storage.commit(file, key);
        record.segments.push({ path: key, start: start.toISOString(), durationSeconds, bytes: (await storage.stat(key))?.bytes ?? 0, discontinuity: this.discontinuity });
      }
      this.discontinuity = false;
      await this.options.index.checkpoint(record);
      if (totalDuration(record) >= this.options.cycleMinutes * 60 && this.stateValue !== 'finalising') this.rotate();
    }).catch((error: unknown) => this.options.logger.error({ err: error, file }, 'cannot commit a recorded segment'));
  }

  /**
   * Stops the current run and waits until every segment it wrote is committed. A second caller while a run is
   * closing (cancel_delay or shutdown during the splice wait's close) waits for that same close: returning early
   * would let finish() finalise the record before the run's last segments reach it, and lose them.
   */
  private async closeRun(): Promise<void> {
    const run = this.run;
    this.run = undefined;
    if (run) this.closing = stopRun(run);
    await this.closing;
    await this.queue;
  }
}

async function stopRun(run: Run): Promise<void> {
  await run.ffmpeg.close();
  // stdout may still hold the last segment line after the process exit.
  await Promise.race([run.stdoutClosed, new Promise((r) => setTimeout(r, 2000))]);
}
