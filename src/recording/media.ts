// One-shot FFmpeg/ffprobe jobs on finished files (remux at finalisation, probing salvaged segments). Long-running
// FFmpeg on live media goes through ManagedFfmpeg instead.
import { spawn } from 'node:child_process';

export interface JobResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; kills it after timeoutMs. */
export function runJob(command: string, args: string[], timeoutMs: number): Promise<JobResult> {
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
