// The time-code source: a worker thread writing stamped raw frames into a FIFO (see rtmp-generator-worker.ts),
// and the encoder ffmpeg that reads them (x264 + optional AAC from lavfi sine), muxed to FLV: pushed over RTMP
// to the server, or written to a pipe for the no-server floor. Same arguments either way but the output.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { GeneratorWorkerData } from './rtmp-generator-worker.js';
import { FPS, HEIGHT, WIDTH } from './rtmp-timecode.js';

export interface GeneratorStats {
  framesWritten: number;
  framesSkipped: number;
  maxWriteMs: number;
}

export class TimeCodeSource {
  private readonly control = new SharedArrayBuffer(12);
  private readonly sent = new SharedArrayBuffer(65536 * 8);
  private readonly maxWrite = new SharedArrayBuffer(8);
  private readonly sentView = new Float64Array(this.sent);
  private readonly worker: Worker;
  private readonly exited: Promise<unknown>;

  constructor(readonly fifo: string) {
    execFileSync('mkfifo', [fifo]);
    const workerData: GeneratorWorkerData = { fifo, control: this.control, sent: this.sent, maxWriteMs: this.maxWrite };
    this.worker = new Worker(new URL('./rtmp-generator-worker.js', import.meta.url), { workerData });
    this.exited = once(this.worker, 'exit');
    this.worker.on('error', (error) => console.error(`[generator] worker error: ${error.message}`));
  }

  /** The time stamped into the frame with this counter (undefined if no such frame was sent yet). */
  sentAt(counter: number): number | undefined {
    const t = this.sentView[counter & 0xffff];
    return t ? t : undefined;
  }

  stats(): GeneratorStats {
    const c = new Int32Array(this.control);
    return { framesWritten: Atomics.load(c, 1), framesSkipped: Atomics.load(c, 2), maxWriteMs: new Float64Array(this.maxWrite)[0] ?? 0 };
  }

  async stop(): Promise<GeneratorStats> {
    const c = new Int32Array(this.control);
    Atomics.store(c, 0, 1);
    Atomics.notify(c, 0);
    // A worker still blocked opening the FIFO (ffmpeg never opened it) is released by a reader that opens and
    // closes at once: its first write then fails with EPIPE.
    const timer = setTimeout(() => {
      try {
        closeSync(openSync(this.fifo, constants.O_RDONLY | constants.O_NONBLOCK));
      } catch {
        // gone already
      }
    }, 500);
    await this.exited;
    clearTimeout(timer);
    return this.stats();
  }
}

export interface EncoderSettings {
  /** x264 B-frames (-bf). */
  bframes: number;
  /** AAC audio from a lavfi sine. */
  audio: boolean;
  kbps: number;
  gop: number;
  preset: string;
  /** x264 -tune (e.g. zerolatency: no lookahead or frame threads; explicit -bf still gives B-frames). */
  tune?: string;
}

/** The generator's raw frames from the FIFO `input`, as ffmpeg's first input. */
export function rawInputArgs(input: string): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${WIDTH}x${HEIGHT}`, '-r', String(FPS), '-i', input];
}

/** The x264 video encoder's arguments (the same whatever the output: FLV over RTMP, a pipe, RTP). */
export function x264Args(settings: EncoderSettings): string[] {
  return ['-c:v', 'libx264', '-preset', settings.preset, ...(settings.tune ? ['-tune', settings.tune] : []), '-bf', String(settings.bframes), '-g', String(settings.gop), '-b:v', `${settings.kbps}k`, '-pix_fmt', 'yuv420p'];
}

/** The encoder's arguments; `output` is an rtmp:// URL or pipe:1. */
export function encoderArgs(input: string, settings: EncoderSettings, output: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    ...rawInputArgs(input),
    ...(settings.audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'] : []),
    '-map', '0:v', ...x264Args(settings),
    ...(settings.audio ? ['-map', '1:a', '-c:a', 'aac', '-b:a', '128k'] : []),
    // Every packet written out at once (as a live encoder does), not held in a 32 KiB I/O buffer.
    '-flush_packets', '1', '-f', 'flv', output,
  ];
}

/** `program`: ffmpeg, or a wrapper that runs it elsewhere (e.g. in a network namespace) with the same pid. */
export function spawnEncoder(input: string, settings: EncoderSettings, output: string, program = 'ffmpeg'): ChildProcess {
  const child = spawn(program, encoderArgs(input, settings, output), { stdio: ['ignore', output === 'pipe:1' ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') console.error(`[encoder] ffmpeg exited (code ${code}, signal ${signal}): ${stderr.trim()}`);
  });
  return child;
}
