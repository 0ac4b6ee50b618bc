// One-shot FFmpeg/ffprobe jobs on finished files (remux at finalisation, probing salvaged segments), and the byte
// surgery on fragmented MP4 segments (CMAF). Long-running FFmpeg on live media goes through ManagedFfmpeg instead.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

interface JobResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; kills it after timeoutMs. */
function runJob(command: string, args: string[], timeoutMs: number): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The media duration ffprobe reads from a file, or undefined if it cannot read it. */
export async function probeDuration(path: string): Promise<number | undefined> {
  const result = await runJob('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path], 30_000).catch(() => undefined);
  const duration = Number(result?.stdout.trim());
  return result?.code === 0 && Number.isFinite(duration) && duration > 0 ? duration : undefined;
}

/**
 * Concatenates segments into one MP4 or FLV with -c copy. The concat demuxer (not the HLS demuxer) is used
 * because it lays each segment after the previous one, so a splice's timestamp reset does not break the muxer.
 */
export async function remux(listPath: string, output: string, format: 'mp4' | 'flv', timeoutMs: number): Promise<void> {
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', listPath, '-map', '0', '-c', 'copy'];
  if (format === 'mp4') args.push('-movflags', '+faststart');
  args.push('-f', format, output);
  const result = await runJob('ffmpeg', args, timeoutMs);
  if (result.code !== 0) throw new Error(`remux to ${format} failed (${result.code}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

/** ffconcat list of local files (paths quoted for the concat demuxer). */
export function concatList(paths: readonly string[]): string {
  return `ffconcat version 1.0\n${paths.map((p) => `file '${p.replaceAll("'", "'\\''")}'`).join('\n')}\n`;
}

/** Options of FFmpeg's segment muxer for CMAF: each segment is a fragmented MP4 (its own ftyp+moov, then moof+mdat
 * pairs, no mfra) whose tfdt values carry the run's timeline (frag_discont + avoid_negative_ts=disabled), so the
 * segments follow each other once their ftyp+moov is moved into one init segment. */
export const CMAF_SEGMENT_FORMAT_OPTIONS = 'movflags=+frag_keyframe+empty_moov+default_base_moof+frag_discont+skip_trailer:avoid_negative_ts=disabled';

export interface FragmentedLayout {
  /** ftyp+moov: everything before the first moof. */
  init: Buffer;
  /** Byte range of the media (moof+mdat pairs); an incomplete trailing box is left out. */
  mediaStart: number;
  mediaEnd: number;
}

/** Splits a fragmented MP4 file into its init part and its complete fragments, or undefined if it holds none. */
export async function fragmentedLayout(path: string): Promise<FragmentedLayout | undefined> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const header = Buffer.alloc(16);
    let offset = 0;
    let mediaStart: number | undefined;
    let mediaEnd: number | undefined;
    let sawMoof = false;
    while (offset + 8 <= size) {
      await handle.read(header, 0, 16, offset);
      let boxSize = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (boxSize === 1) boxSize = Number(header.readBigUInt64BE(8));
      else if (boxSize === 0) boxSize = size - offset;
      if (boxSize < 8 || offset + boxSize > size) break; // incomplete (a killed FFmpeg) or corrupt: stop here
      if ((type === 'moof' || type === 'styp') && mediaStart === undefined) mediaStart = offset;
      if (type === 'moof') sawMoof = true;
      if (type === 'mdat' && sawMoof) mediaEnd = offset + boxSize;
      offset += boxSize;
    }
    if (mediaStart === undefined || mediaEnd === undefined || mediaStart === 0) return undefined;
    const init = Buffer.alloc(mediaStart);
    await handle.read(init, 0, mediaStart, 0);
    return { init, mediaStart, mediaEnd };
  } finally {
    await handle.close();
  }
}

/** Writes `parts` (whole files, or byte ranges of files) one after the other into `output`, fsynced. */
export async function concatFiles(output: string, parts: readonly (string | { path: string; start: number; end: number } | Buffer)[]): Promise<void> {
  const out = await open(output, 'w');
  try {
    for (const part of parts) {
      if (Buffer.isBuffer(part)) {
        await out.write(part);
        continue;
      }
      const { path, start, end } = typeof part === 'string' ? { path: part, start: 0, end: undefined } : part;
      const input = createReadStream(path, { start, end: end === undefined ? undefined : end - 1 });
      for await (const chunk of input) await out.write(chunk as Buffer);
    }
    await out.sync();
  } finally {
    await out.close();
  }
}

/**
 * The media span of a fragmented MP4 with absolute fragment times: ffprobe reports its end as the duration,
 * so the start is subtracted.
 */
export async function probeFragmentedSpan(path: string): Promise<number | undefined> {
  const result = await runJob('ffprobe', ['-v', 'error', '-show_entries', 'format=start_time,duration', '-of', 'csv=p=0', path], 30_000).catch(() => undefined);
  const [start, end] = (result?.stdout.trim() ?? '').split(',').map(Number);
  if (result?.code !== 0 || start === undefined || end === undefined || !Number.isFinite(start) || !Number.isFinite(end)) return undefined;
  const span = end - Math.max(0, start);
  return span > 0 ? span : undefined;
}
