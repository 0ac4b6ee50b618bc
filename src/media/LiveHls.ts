// Live HLS of the embedded standard-latency domain: one FFmpeg per stream (copying the stream's FLV feed into
// short TS segments, cut at key frames), started by the first playlist request and stopped after a while without
// requests or when the stream ends; its files are deleted then. Segments and playlists are written under temporary
// names and renamed (temp_file), so a player never reads half a file.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Refusal } from '../core/index.js';
import { feedInput, type FfmpegProcesses, ManagedFfmpeg } from './ffmpeg/ManagedFfmpeg.js';
import type { LiveStream } from '../streams/StreamRegistry.js';

export interface LiveHlsOptions {
  /** Root directory; each stream writes under {root}/{app}/ (see streamDir). */
  root: string;
  segmentSeconds: number;
  listSize: number;
  idleSeconds: number;
}

interface Muxer {
  live: LiveStream;
  ffmpeg: ManagedFfmpeg;
  playlist: string;
  idleTimer: NodeJS.Timeout;
  stop: () => void;
}

export class LiveHls {
  private readonly muxers = new Map<string, Muxer>();
  /** Muxers being stopped (FFmpeg exit, file removal) by stream: a new muxer of the name waits for it. */
  private readonly stopping = new Map<string, Promise<void>>();

  constructor(
    private readonly options: LiveHlsOptions,
    private readonly ffmpegs: FfmpegProcesses,
    private readonly logger: Logger,
  ) {}

  /** The stream's playlist file, starting its muxer if needed and waiting for the first segment. */
  async playlist(live: LiveStream): Promise<string> {
    let muxer = this.muxers.get(key(live));
    if (muxer && muxer.live !== live) await this.stop(muxer); // the muxer of an earlier publish of this name
    muxer = this.muxers.get(key(live)) ?? (await this.start(live));
    this.touch(muxer);
    // The first playlist appears once the first segment is cut: about one segment after the first key frame.
    const deadline = Date.now() + (this.options.segmentSeconds * 4 + 10) * 1000;
    while (!existsSync(muxer.playlist)) {
      if (this.muxers.get(key(live)) !== muxer) throw new Refusal('not-found', `stream ${key(live)} is not live`);
      if (Date.now() > deadline) throw new Refusal('unavailable', `no HLS segment for ${key(live)} yet: ${muxer.ffmpeg.lastError ?? 'waiting for a key frame'}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return muxer.playlist;
  }

  /** A segment file of a stream whose muxer runs, or undefined. */
  segment(live: LiveStream, name: string): string | undefined {
    const muxer = this.muxers.get(key(live));
    if (muxer?.live !== live) return undefined;
    this.touch(muxer);
    const path = join(streamDir(this.options.root, live), name);
    return existsSync(path) ? path : undefined;
  }

  /** Whether a stream's muxer runs (for the API and tests). */
  isRunning(live: LiveStream): boolean {
    return this.muxers.get(key(live))?.live === live;
  }

  async close(): Promise<void> {
    await Promise.all([...this.muxers.values()].map((m) => this.stop(m)));
    await Promise.all([...this.stopping.values()]);
  }

  private async start(live: LiveStream): Promise<Muxer> {
    const dir = streamDir(this.options.root, live);
    await this.stopping.get(key(live)); // the previous muxer's files go first: same names
    await mkdir(dir, { recursive: true });
    const existing = this.muxers.get(key(live));
    if (existing) return existing;
    const playlist = join(dir, `${live.stream}.m3u8`);
    const { segmentSeconds, listSize } = this.options;
    const ffmpeg = new ManagedFfmpeg({
      input: feedInput(live.feed, 'gop', ['-analyzeduration', '1000000']),
      graceful: false,
      ffmpegs: this.ffmpegs,
      logger: this.logger.child({ stream: key(live) }),
      output: (command) =>
        command.output(playlist).outputOptions([
          '-map', '0:v?', '-map', '0:a?', '-c', 'copy', '-f', 'hls', '-hls_time', String(segmentSeconds), '-hls_list_size', String(listSize),
          '-hls_flags', 'delete_segments+independent_segments+temp_file+omit_endlist+program_date_time', '-hls_allow_cache', '0',
          '-hls_segment_filename', join(dir, `${live.stream}-%d.ts`),
        ]),
    });
    const stop = (): void => void this.stop(muxer);
    const muxer: Muxer = { live, ffmpeg, playlist, idleTimer: setTimeout(stop, this.options.idleSeconds * 1000), stop };
    this.muxers.set(key(live), muxer);
    live.feed.once('end', stop);
    ffmpeg.start();
    this.logger.info({ stream: key(live) }, 'HLS muxer started');
    return muxer;
  }

  private touch(muxer: Muxer): void {
    muxer.idleTimer.refresh();
  }

  private async stop(muxer: Muxer): Promise<void> {
    if (this.muxers.get(key(muxer.live)) !== muxer) return;
    this.muxers.delete(key(muxer.live));
    clearTimeout(muxer.idleTimer);
    muxer.live.feed.off('end', muxer.stop);
    const stopped = (async () => {
      await muxer.ffmpeg.close();
      await removeStreamFiles(streamDir(this.options.root, muxer.live), muxer.live.stream);
      this.logger.info({ stream: key(muxer.live) }, 'HLS muxer stopped');
    })();
    this.stopping.set(key(muxer.live), stopped);
    await stopped.finally(() => {
      if (this.stopping.get(key(muxer.live)) === stopped) this.stopping.delete(key(muxer.live));
    });
  }
}

function key(live: LiveStream): string {
  return live.key;
}

/** {root}/{app}/ for the default domain's streams; a configured ingest domain's get a directory of their own. */
function streamDir(root: string, live: LiveStream): string {
  return live.ingestDomain === undefined ? join(root, live.app) : join(root, `domain-${encodeURIComponent(live.ingestDomain)}`, live.app);
}

async function removeStreamFiles(dir: string, stream: string): Promise<void> {
  const files = await readdir(dir).catch(() => [] as string[]);
  const mine = new RegExp(`^${stream.replace(/[.~-]/g, '\\$&')}(\\.m3u8|-\\d+\\.ts)(\\.tmp)?$`);
  await Promise.all(files.filter((f) => mine.test(f)).map((f) => rm(join(dir, f), { force: true })));
}
