// The size and frame rate of a live stream's video, read by ffprobe from the stream's own FLV feed (from its cached
// GOP, so it answers at once for a stream that is on the standard side already), never from encoder metadata: a
// template must be checked against the source (no upscaling, no frame rate above the source's) before it starts.
import { spawn } from 'node:child_process';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { Refusal } from '../../core/index.js';
import { writeFeed } from '../ffmpeg/ManagedFfmpeg.js';
import type { FlvSource } from '../flv/FlvFeed.js';
import type { SourceVideo } from './plan.js';

/** ffprobe's answer, as far as it is used. */
const ProbeAnswer = Type.Object({
  streams: Type.Array(
    Type.Object({
      codec_type: Type.Optional(Type.String()),
      width: Type.Optional(Type.Integer({ minimum: 1 })),
      height: Type.Optional(Type.Integer({ minimum: 1 })),
      r_frame_rate: Type.Optional(Type.String()),
      avg_frame_rate: Type.Optional(Type.String()),
      codec_name: Type.Optional(Type.String()),
      profile: Type.Optional(Type.String()),
      level: Type.Optional(Type.Integer()),
    }),
  ),
});

const PLAUSIBLE_RATE = /^(\d+)\/(\d+)$/;

/** The stream's video (undefined when it has none), or a refusal saying why it could not be read in time. */
export function probeSourceVideo(feed: FlvSource, name: string, timeoutMs: number): Promise<SourceVideo | undefined> {
  return new Promise((resolve, reject) => {
    const probe = spawn('ffprobe', ['-v', 'error', '-f', 'flv', '-show_entries', 'stream=codec_type,codec_name,profile,level,width,height,r_frame_rate,avg_frame_rate', '-of', 'json', '-i', 'pipe:0'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // ffprobe stops reading as soon as it knows the streams: what is still being written then goes nowhere.
    probe.stdin.on('error', () => undefined);
    const subscription = writeFeed(feed, 'gop', probe.stdin, { onEnd: () => probe.stdin.end() });
    let stdout = '';
    let stderr = '';
    probe.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    probe.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => probe.kill('SIGKILL'), timeoutMs);
    probe.once('error', (error) => {
      clearTimeout(timer);
      subscription.close();
      reject(new Refusal('unavailable', `cannot read the video of ${name}: ${error.message}`));
    });
    probe.once('close', (code, signal) => {
      clearTimeout(timer);
      subscription.close();
      if (signal === 'SIGKILL') return reject(new Refusal('unavailable', `cannot read the video of ${name} within ${timeoutMs / 1000} s`));
      let answer: unknown;
      try {
        answer = JSON.parse(stdout);
      } catch {
        answer = undefined;
      }
      if (code !== 0 || !Value.Check(ProbeAnswer, answer)) {
        return reject(new Refusal('unavailable', `cannot read the video of ${name}: ${stderr.trim().split('\n').at(-1) ?? `ffprobe exited with ${code}`}`));
      }
      const video = answer.streams.find((s) => s.codec_type === 'video');
      if (!video?.width || !video.height) return resolve(undefined);
      resolve({
        width: video.width,
        height: video.height,
        rate: [video.r_frame_rate, video.avg_frame_rate].find((r) => r !== undefined && plausibleRate(r)),
        codec: video.codec_name === 'h264' ? avc1Codec(video.profile, video.level) : undefined,
      });
    });
  });
}

/** A frame rate ffprobe could measure: "30/1", not "0/0" or the 1 kHz tick of FLV timestamps. */
function plausibleRate(rate: string): boolean {
  const match = PLAUSIBLE_RATE.exec(rate);
  if (!match) return false;
  const fps = Number(match[1]) / Number(match[2]);
  return fps >= 1 && fps <= 240;
}

/** profile_idc and constraint flags, by ffprobe's profile name. */
const AVC_PROFILES: Record<string, string> = { 'Constrained Baseline': '42e0', Baseline: '4200', Main: '4d40', High: '6400' };

/** The RFC 6381 name of an H264 stream (avc1.PPCCLL), as HLS's CODECS attribute takes it. */
function avc1Codec(profile: string | undefined, level: number | undefined): string | undefined {
  const profileIdc = profile === undefined ? undefined : AVC_PROFILES[profile];
  if (profileIdc === undefined || level === undefined || level <= 0 || level > 255) return undefined;
  return `avc1.${profileIdc}${level.toString(16).padStart(2, '0')}`;
}
