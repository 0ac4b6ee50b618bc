// FFmpeg as the media tools a user would run: an encoder pushing a test pattern (and a tone) over RTMP, an RTMP
// server receiving a push (`-listen 1`), and ffprobe reading what came out.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeTag, flvHeader, FlvDemuxer, TAG_SCRIPT, type FlvTag } from '../../src/media/flv/tag.js';
import type { VideoTiming } from './media.js';

const run = promisify(execFile);

export interface EncoderOptions {
  bframes?: number;
  audio?: boolean;
  codec?: 'libx264' | 'flv';
  /** Key-frame interval in frames (30 fps). */
  gop?: number;
  /** x264's H264 profile (default: x264's own choice, High). */
  profile?: 'baseline' | 'main' | 'high';
}

/**
 * Input options that end a test's endless encoder after 5 minutes, longer than any test: a test process killed by
 * its pool (no 'exit' handler runs) leaves no FFmpeg running for good.
 */
export const TEST_MEDIA_LIMIT = ['-t', '300'];

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stderr?.resume();
  return child;
}

/** FFmpeg encoding a test pattern (and a tone) and pushing it over RTMP, as an encoder in the field would. */
export function rtmpEncoder(url: string, options: EncoderOptions = {}): ChildProcess {
  const video = options.codec === 'flv'
    ? ['-c:v', 'flv', '-b:v', '800k']
    : ['-c:v', 'libx264', '-preset', 'ultrafast', ...(options.profile ? ['-profile:v', options.profile] : []), '-bf', String(options.bframes ?? 0), '-g', String(options.gop ?? 30), '-pix_fmt', 'yuv420p', '-b:v', '1000k'];
  const audio = options.audio !== false;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    ...TEST_MEDIA_LIMIT,
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    ...(audio ? [...TEST_MEDIA_LIMIT, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'] : []),
    '-map', '0:v', ...video,
    ...(audio ? ['-map', '1:a', '-c:a', 'aac', '-b:a', '96k'] : []),
    '-f', 'flv', url,
  ];
  return track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
}

/** Kills a child as a crash would (an encoder: no RTMP goodbye), and waits for it to exit. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** An RTMP server for one push (FFmpeg's listen mode), writing what it receives to an FLV file. */
export function rtmpReceiver(url: string, file: string): ChildProcess {
  return track(spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-listen', '1', '-i', url, '-c', 'copy', '-f', 'flv', '-y', file], { stdio: ['ignore', 'ignore', 'pipe'] }));
}

export interface Probed {
  codecs: string[];
  /** Video frames decoded (ffmpeg decodes the whole input, or `frames` of it). */
  videoFrames: number;
  durationSeconds: number;
}

/** What ffprobe finds in a file or URL, and how many video frames FFmpeg decodes from it. */
export async function probe(input: string, options: { frames?: number } = {}): Promise<Probed> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type:format=duration', '-of', 'json', input], { timeout: 30_000 });
  const info = JSON.parse(stdout) as { streams?: { codec_name?: string; codec_type?: string }[]; format?: { duration?: string } };
  const limit = options.frames === undefined ? [] : ['-frames:v', String(options.frames)];
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-stats', '-i', input, ...limit, '-map', '0:v:0', '-f', 'null', '-'], { timeout: 60_000 });
  const frames = [...stderr.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1];
  return {
    // Audio and video only: a live HLS stream may also carry a timed-metadata (data) stream.
    codecs: (info.streams ?? []).filter((s) => s.codec_type === 'audio' || s.codec_type === 'video').map((s) => s.codec_name ?? 'unknown').sort(),
    videoFrames: Number(frames ?? 0),
    durationSeconds: Number(info.format?.duration ?? 0),
  };
}

/**
 * Size and timing of the first video stream of a file or URL, from ffprobe's packets: `seconds` of it, whole GOPs
 * from key frame `fromKeyFrame` on.
 */
export async function probeVideo(input: string, seconds: number, fromKeyFrame = 0): Promise<{ width: number; height: number } & VideoTiming> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', `%+${seconds}`, '-show_entries', 'stream=width,height:packet=pts_time,size,flags', '-of', 'json', input], { timeout: 60_000 });
  const info = JSON.parse(stdout) as { streams?: { width?: number; height?: number }[]; packets?: { pts_time?: string; size?: string; flags?: string }[] };
  const packets = (info.packets ?? []).map((p) => ({ time: Number(p.pts_time), bytes: Number(p.size), key: p.flags?.startsWith('K') ?? false }));
  const keyTimes = packets.filter((p) => p.key).map((p) => p.time).slice(fromKeyFrame);
  const [start, end] = [keyTimes[0] ?? 0, keyTimes.at(-1) ?? 0];
  const window = packets.filter((p) => p.time >= start && p.time < end);
  return {
    width: info.streams?.[0]?.width ?? 0,
    height: info.streams?.[0]?.height ?? 0,
    fps: end > start ? window.length / (end - start) : 0,
    kbps: end > start ? (window.reduce((sum, p) => sum + p.bytes, 0) * 8) / (end - start) / 1000 : 0,
    keyFrameIntervals: keyTimes.slice(1).map((t, i) => t - (keyTimes[i] ?? 0)),
  };
}

/**
 * An FLV file whose video changes size mid-stream, as an encoder that adapts its resolution sends it: one encode per
 * size (30 fps, 1 s GOP, AAC), spliced so that each later part starts with its own sequence headers and carries on
 * the timeline.
 */
export async function resizingFlv(dir: string, parts: { size: string; seconds: number }[]): Promise<string> {
  const files = await Promise.all(
    parts.map(async ({ size, seconds }, i) => {
      const file = join(dir, `part${i}.flv`);
      await run('ffmpeg', [
        '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', String(seconds),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '30', '-pix_fmt', 'yuv420p', '-b:v', '1000k', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', file,
      ], { timeout: 60_000 });
      return file;
    }),
  );
  const spliced: Buffer[] = [flvHeader(true, true)];
  let offset = 0;
  for (const [i, file] of files.entries()) {
    const tags: FlvTag[] = [];
    const error = new FlvDemuxer((tag) => tags.push(tag)).write(await readFile(file));
    if (error) throw new Error(`${file}: ${error}`);
    // One onMetaData, the first part's.
    const kept = tags.filter((tag) => i === 0 || tag.type !== TAG_SCRIPT).map((tag) => ({ ...tag, timestamp: tag.timestamp + offset }));
    spliced.push(...kept.map(encodeTag));
    offset = Math.max(offset, ...kept.map((tag) => tag.timestamp)) + 34;
  }
  const file = join(dir, 'resizing.flv');
  await writeFile(file, Buffer.concat(spliced));
  return file;
}

/** FFmpeg pushing an FLV file over RTMP at its own pace, as it is (sequence headers included). */
export function rtmpFilePublisher(file: string, url: string): ChildProcess {
  return track(spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', file, '-c', 'copy', '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] }));
}
