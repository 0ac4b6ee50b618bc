// One long-running FFmpeg process (driven through fluent-ffmpeg) with an owner: the RTMP bridge to the SFU, the SFU
// egress to FLV, the HLS muxer, a relay to another RTMP server, a recorder. If FFmpeg exits while its owner still
// wants it, it is restarted with backoff and its stderr tail is logged; close() ends it (gracefully, so files and
// pushes are finalised, or at once) and waits for the exit, so nothing is left running.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import ffmpeg, { type FfmpegCommand } from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import type { FeedStart, FeedSubscription, FlvSource } from '../flv/FlvFeed.js';
import { encodeTag, flvHeader, TAG_SCRIPT, type FlvTag } from '../flv/tag.js';
import { arrivalRetimer } from '../flv/retime.js';

/** Sets a run's input on the command; returns what ends that input (FFmpeg then finishes on its own). */
export type RunInput = (command: FfmpegCommand) => () => void;

export interface ManagedFfmpegOptions {
  input: RunInput;
  /** Adds the outputs (and their options) to the command. */
  output: (command: FfmpegCommand) => void;
  /** Whether close() lets FFmpeg finish (files and pushes finalised) or kills it at once. */
  graceful: boolean;
  /** The server's FFmpeg processes: this one is among them from start() to close(). */
  ffmpegs: FfmpegProcesses;
  logger: Logger;
  /** What it is for, in metrics (default: the logger's component: rtmp, egress, hls, relay, recording). */
  role?: string;
}

export type FfmpegState = 'starting' | 'running' | 'retrying' | 'closed';

export type ManagedFfmpegEvents = {
  /** A run started (its pid). */
  spawn: [number];
  /** FFmpeg reported progress (once a second): output is being written. */
  progress: [];
  /** A run ended unexpectedly (the reason and the last lines FFmpeg wrote to stderr); a restart follows. */
  exit: [string, string];
};

const MAX_BACKOFF_MS = 10_000;
/** FFmpeg stalled: drop rather than hold an unbounded backlog (latency would only grow). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
const GRACEFUL_EXIT_MS = 5_000;
/** `-progress pipe:2` writes key=value lines; they are not errors. */
const PROGRESS_LINE = /^[a-z_0-9]+=/;

export class ManagedFfmpeg extends EventEmitter<ManagedFfmpegEvents> {
  private command: FfmpegCommand | undefined;
  private endInput: (() => void) | undefined;
  private process: ChildProcess | undefined;
  private stderrTail: string[] = [];
  private restarts = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private current: FfmpegState = 'starting';
  private lastExit: string | undefined;

  constructor(private readonly options: ManagedFfmpegOptions) {
    super();
  }

  get state(): FfmpegState {
    return this.current;
  }

  /** Why the last run ended (FFmpeg's last stderr line when it said something). */
  get lastError(): string | undefined {
    return this.lastExit;
  }

  /** The running FFmpeg's pid (tests kill it to check the restart). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  get role(): string {
    const component = (this.options.logger.bindings() as { component?: unknown }).component;
    return this.options.role ?? (typeof component === 'string' ? component : 'other');
  }

  get restartCount(): number {
    return this.restarts;
  }

  start(): void {
    if (this.current === 'closed') return;
    this.options.ffmpegs.add(this);
    this.current = 'starting';
    // Progress comes as key=value lines on stderr once a second; fluent-ffmpeg keeps only the last line in memory.
    const command = ffmpeg({ stdoutLines: 1 });
    this.endInput = this.options.input(command);
    command.inputOptions(['-hide_banner', '-loglevel', 'error', '-nostats', '-progress', 'pipe:2', '-stats_period', '1']);
    this.options.output(command);
    command.on('start', (line: string) => {
      // fluent-ffmpeg spawns after its own checks and keeps the child here; we wait on it and report its pid.
      const child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (this.command !== command) {
        child?.kill('SIGKILL'); // closed (or restarted) before FFmpeg even started
        return;
      }
      this.process = child;
      this.options.logger.info({ ffmpeg: line, pid: child?.pid }, 'ffmpeg started');
      if (child?.pid) this.emit('spawn', child.pid);
    });
    command.on('stderr', (line: string) => {
      if (line.trim() === '') return;
      if (PROGRESS_LINE.test(line)) {
        if (line.startsWith('progress=') && this.command === command) {
          this.current = 'running';
          this.emit('progress');
        }
        return;
      }
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    command.on('error', (error: Error) => this.exited(command, error.message));
    command.on('end', () => this.exited(command, 'ffmpeg ended'));
    this.command = command;
    this.startedAt = Date.now();
    command.run();
  }

  /** Ends the current run at once and starts a new one (its outputs set up anew): what they are made from changed. Not counted as a restart after a crash. */
  async restart(): Promise<void> {
    if (this.current === 'closed') return;
    clearTimeout(this.restartTimer);
    await this.stop(false);
    if (this.state !== 'closed') this.start(); // unless closed meanwhile
  }

  /** Ends FFmpeg (gracefully if so configured) and waits until it has exited. */
  async close(): Promise<void> {
    if (this.current === 'closed') return;
    this.current = 'closed';
    this.options.ffmpegs.delete(this);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.stop(this.options.graceful);
  }

  private async stop(graceful: boolean): Promise<void> {
    const process = this.process;
    this.endInput?.();
    this.endInput = undefined;
    this.command = undefined;
    this.process = undefined;
    if (!process || process.exitCode !== null || process.signalCode !== null) return;
    const exited = once(process, 'exit');
    if (!graceful) process.kill('SIGKILL');
    const timer = setTimeout(() => process.kill('SIGKILL'), GRACEFUL_EXIT_MS);
    await exited;
    clearTimeout(timer);
  }

  private exited(command: FfmpegCommand, reason: string): void {
    if (this.current === 'closed' || this.command !== command) return;
    const stderr = this.stderrTail.join('\n');
    this.lastExit = this.stderrTail.at(-1) ?? reason;
    const backoff = Date.now() - this.startedAt > 10_000 ? 500 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.restarts);
    this.options.logger.error({ reason, stderr, restartInMs: backoff }, 'ffmpeg exited; restarting');
    this.emit('exit', reason, stderr);
    this.restarts++;
    this.stderrTail = [];
    this.current = 'retrying';
    void this.stop(false).then(() => {
      if (this.current !== 'retrying') return;
      this.restartTimer = setTimeout(() => this.start(), backoff);
    });
  }
}

/**
 * A run's input: the feed's FLV tags on stdin, from a key frame after the sequence headers. `retime`: the tags get
 * their arrival times instead of the source's timestamps (src/media/flv/retime.ts), each run from 0.
 */
export function feedInput(feed: FlvSource, start: FeedStart, inputOptions: string[] = [], options: { retime?: boolean } = {}): RunInput {
  return (command) => {
    const input = new PassThrough();
    command.input(input).inputFormat('flv').inputOptions(inputOptions);
    const subscription = writeFeed(feed, start, input, options);
    return () => {
      subscription.close();
      input.end();
    };
  };
}

/** Writes the feed as an FLV stream (header, then its tags from `start`) to a process's input, until closed; `onEnd`: the stream is over. */
export function writeFeed(feed: FlvSource, start: FeedStart, input: Writable, options: { retime?: boolean; onEnd?: () => void } = {}): FeedSubscription {
  const retime = options.retime ? arrivalRetimer() : (tag: FlvTag) => tag;
  let headerSent = false;
  return feed.subscribe((tag) => {
    // Encoder metadata can describe streams that are not there (and makes a no-probe FLV input miss the video).
    if (tag.type === TAG_SCRIPT) return;
    if (!headerSent) {
      input.write(flvHeader(feed.tracks.audio, feed.tracks.video));
      headerSent = true;
    }
    if (input.writableLength <= MAX_PENDING_BYTES) input.write(encodeTag(retime(tag)));
  }, start, options.onEnd);
}

/**
 * fluent-ffmpeg checks FFmpeg's formats, codecs and encoders before its first run in a process (about a second);
 * doing it at startup keeps that off the first publish's time to first frame.
 */
export function warmUpFfmpeg(logger: Logger): void {
  ffmpeg.getAvailableFormats((formatsError) => {
    ffmpeg.getAvailableCodecs((codecsError) => {
      ffmpeg.getAvailableEncoders((encodersError) => {
        const error = formatsError ?? codecsError ?? encodersError;
        if (error) logger.error({ err: error }, 'cannot run ffmpeg: media pipelines will fail');
      });
    });
  });
}

// The FFmpeg processes of one server, for /metrics (their roles, pids and CPU). Created once by startServer and
// handed to everything that runs FFmpeg; each ManagedFfmpeg is listed from its start() to its close(). Being an
// object rather than module state, two servers in one process (the tests) each list only their own.
export class FfmpegProcesses {
  private readonly running = new Set<ManagedFfmpeg>();

  add(ffmpeg: ManagedFfmpeg): void {
    this.running.add(ffmpeg);
  }

  delete(ffmpeg: ManagedFfmpeg): void {
    this.running.delete(ffmpeg);
  }

  /** Started and not yet closed (one may be between runs: then its pid is undefined). */
  list(): ManagedFfmpeg[] {
    return [...this.running];
  }
}
