// What a rendition is, worked out from its template and the source it is made from (pure functions, no media):
// its name, size, frame rate, key-frame interval and H264 level, or why the template does not fit the source; and
// the FFmpeg arguments of one process that decodes the source once and encodes every rendition of a set from it.
import type { H264Profile, TranscodeTemplate } from '../../config/transcoding.js';
import { rtpUrl, type RtpTarget } from '../ffmpeg/rtp.js';

/** The source's video as ffprobe reads it from the stream's feed. */
export interface SourceVideo {
  width: number;
  height: number;
  /** Frames per second, as a rational FFmpeg takes ("30/1", "30000/1001"); undefined when the source does not say. */
  rate: string | undefined;
  /** Its codec as RFC 6381 names it ("avc1.64001f"), when it is H264 of a known profile. */
  codec?: string | undefined;
}

export interface RenditionPlan {
  templateId: string;
  width: number;
  height: number;
  /** The output frame rate, as a rational (what x264 is told, see renditionOutputs), and its value. */
  rate: string;
  fps: number;
  /** Set when the rendition keeps fewer frames than the source has: the frames per second it keeps (see filterGraph). */
  dropToFps: number | undefined;
  /** Frames from one key frame to the next, at most (a source key frame makes one too, see renditionOutputs). */
  gopFrames: number;
  gopSeconds: number;
  bitrateKbps: number;
  profile: H264Profile;
  preset: string;
  tune: string;
  /** The H264 level the size, rate and bitrate need ("3.1"), and the SDP profile-level-id that declares it. */
  level: string;
  profileLevelId: string;
  opusKbps: number;
  aacKbps: number;
}

/** Why a template does not fit a source: the class (for the refusal counter) and a sentence. */
export interface Misfit {
  reason: 'upscale' | 'fps';
  message: string;
}

/** A source frame rate this much above its nominal value still counts as it (NTSC rates, millisecond timestamps). */
const RATE_TOLERANCE = 1.02;
/** When the source gives no frame rate, nor the template. */
const FALLBACK_RATE = '30';

/** The stream name of a rendition: {stream}_{templateId}. */
export function renditionName(stream: string, templateId: string): string {
  return `${stream}_${templateId}`;
}

/** The source stream and template id a rendition name stands for (split at its last "_"), or undefined. */
export function parseRenditionName(stream: string): { source: string; templateId: string } | undefined {
  const at = stream.lastIndexOf('_');
  if (at <= 0 || at === stream.length - 1) return undefined;
  return { source: stream.slice(0, at), templateId: stream.slice(at + 1) };
}

/** The rendition a template makes of a source, or why it cannot: never above the source's size or frame rate. */
export function planRendition(template: TranscodeTemplate, source: SourceVideo): { plan: RenditionPlan } | { misfit: Misfit } {
  const { video, audio } = template;
  const asked = [video.width === undefined ? undefined : `width ${video.width}`, video.height === undefined ? undefined : `height ${video.height}`].filter(Boolean).join(' and ');
  if ((video.width ?? 0) > source.width || (video.height ?? 0) > source.height) {
    return { misfit: { reason: 'upscale', message: `template ${template.id} asks for ${asked}, above the source's ${source.width}x${source.height}: renditions are never upscaled` } };
  }
  const sourceFps = source.rate === undefined ? undefined : rateValue(source.rate);
  if (video.fps !== undefined && sourceFps !== undefined && video.fps > sourceFps * RATE_TOLERANCE) {
    return { misfit: { reason: 'fps', message: `template ${template.id} asks for ${video.fps} fps, above the source's ${round(sourceFps)} fps` } };
  }
  const { width, height } = outputSize(video.width, video.height, source);
  // The source's own rate when the template asks for it or more (never more frames than the source has).
  const drops = video.fps !== undefined && (sourceFps === undefined || video.fps < sourceFps);
  const rate = drops ? String(video.fps) : (source.rate ?? FALLBACK_RATE);
  const fps = rateValue(rate);
  const level = h264Level(width, height, fps, video.bitrateKbps);
  return {
    plan: {
      templateId: template.id,
      width,
      height,
      rate,
      fps,
      dropToFps: drops ? fps : undefined,
      gopFrames: Math.max(1, Math.round(fps * video.gopSeconds)),
      gopSeconds: video.gopSeconds,
      bitrateKbps: video.bitrateKbps,
      profile: video.profile,
      preset: video.preset,
      tune: video.tune,
      level: level.name,
      profileLevelId: `${PROFILE_IDC[video.profile]}${level.idc}`,
      opusKbps: audio.opusKbps,
      aacKbps: audio.aacKbps,
    },
  };
}

/**
 * The rendition a template makes of a source, brought within the source where it asks for more: its size scaled
 * down (aspect kept) and its frame rate lowered to the source's. For a WebRTC ladder layer whose source shrank
 * mid-stream: the layer's track exists, so it cannot be left out as at the start.
 */
export function fittedRendition(template: TranscodeTemplate, source: SourceVideo): RenditionPlan {
  const planned = planRendition(template, source);
  if ('plan' in planned) return planned.plan;
  const { width, height, fps } = template.video;
  const scale = Math.min(1, width === undefined ? 1 : source.width / width, height === undefined ? 1 : source.height / height);
  const sourceFps = source.rate === undefined ? undefined : rateValue(source.rate);
  const video = {
    ...template.video,
    width: width === undefined ? undefined : Math.min(evenFloor(source.width), evenRound(width * scale)),
    height: height === undefined ? undefined : Math.min(evenFloor(source.height), evenRound(height * scale)),
    fps: fps === undefined || sourceFps === undefined ? fps : Math.min(fps, sourceFps),
  };
  const fitted = planRendition({ ...template, video }, source);
  if ('misfit' in fitted) throw new Error(`template ${template.id} does not fit ${source.width}x${source.height} even scaled down: ${fitted.misfit.message}`);
  return fitted.plan;
}

/** Width and/or height as asked, the other following the source's aspect ratio; even, and within the source. */
function outputSize(width: number | undefined, height: number | undefined, source: SourceVideo): { width: number; height: number } {
  const maxWidth = evenFloor(source.width);
  const maxHeight = evenFloor(source.height);
  if (width !== undefined && height !== undefined) return { width, height };
  if (width !== undefined) return { width, height: Math.min(maxHeight, evenRound((width * source.height) / source.width)) };
  if (height !== undefined) return { width: Math.min(maxWidth, evenRound((height * source.width) / source.height)), height };
  return { width: maxWidth, height: maxHeight };
}

const evenRound = (value: number): number => Math.max(2, 2 * Math.round(value / 2));
const evenFloor = (value: number): number => Math.max(2, 2 * Math.floor(value / 2));
const round = (value: number): number => Math.round(value * 100) / 100;

function rateValue(rate: string): number {
  const [num = '0', den = '1'] = rate.split('/');
  return Number(num) / Number(den);
}

/** profile_idc and constraint flags of the SDP profile-level-id (baseline: constrained baseline, what WebRTC decodes everywhere). */
const PROFILE_IDC: Record<H264Profile, string> = { baseline: '42e0', main: '4d00', high: '6400' };

interface H264Level {
  name: string;
  /** level_idc in hex, the profile-level-id's last byte. */
  idc: string;
  frameMbs: number;
  mbsPerSecond: number;
  kbps: number;
}

const HIGHEST_LEVEL: H264Level = { name: '5.2', idc: '34', frameMbs: 36864, mbsPerSecond: 2073600, kbps: 240000 };
/** H264 levels from 3.1 up (A.3.1: frame size in macroblocks, macroblocks per second, main-profile bitrate). */
const LEVELS: H264Level[] = [
  { name: '3.1', idc: '1f', frameMbs: 3600, mbsPerSecond: 108000, kbps: 14000 },
  { name: '3.2', idc: '20', frameMbs: 5120, mbsPerSecond: 216000, kbps: 20000 },
  { name: '4', idc: '28', frameMbs: 8192, mbsPerSecond: 245760, kbps: 20000 },
  { name: '4.2', idc: '2a', frameMbs: 8704, mbsPerSecond: 522240, kbps: 50000 },
  { name: '5.1', idc: '33', frameMbs: 36864, mbsPerSecond: 983040, kbps: 240000 },
  HIGHEST_LEVEL,
];

/** The lowest level (from 3.1, the one WebRTC offers name) a size, frame rate and bitrate fit in. */
export function h264Level(width: number, height: number, fps: number, kbps: number): H264Level {
  const frameMbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  return LEVELS.find((l) => frameMbs <= l.frameMbs && frameMbs * fps <= l.mbsPerSecond && kbps <= l.kbps) ?? HIGHEST_LEVEL;
}

/** One rendition's place in a process: its plan and where its tracks go. */
export interface RenditionOutput {
  plan: RenditionPlan;
  video: RtpTarget;
  audio: RtpTarget | undefined;
}

/**
 * The filter graph of one process: the source's video decoded once and split into one branch per rendition
 * ([v0], [v1], …), its audio resampled once and split likewise ([a0], [a1], …).
 *
 * A branch that drops frames keeps the first frame of each 1/fps slot, and every source key frame, with its own
 * timestamp (the fps filter would make new frames, without the key-frame mark the encoder needs: see renditionOutputs).
 */
export function filterGraph(plans: readonly RenditionPlan[], audio: boolean): string {
  const branches = (prefix: string) => plans.map((_, i) => `[${prefix}${i}]`).join('');
  const graph = [`[0:v:0]split=${plans.length}${branches('s')}`, ...plans.map((p, i) => `[s${i}]${[...dropFrames(p), `scale=${p.width}:${p.height}`, 'format=yuv420p'].join(',')}[v${i}]`)];
  if (audio) graph.push(`[0:a:0]aresample=48000,asplit=${plans.length}${branches('a')}`);
  return graph.join(';');
}

function dropFrames(plan: RenditionPlan): string[] {
  const fps = plan.dropToFps;
  if (fps === undefined) return [];
  return [`select='key+isnan(prev_selected_t)+gt(floor(t*${fps})\\,floor(prev_selected_t*${fps}))'`];
}

/** The FFmpeg outputs of rendition `index` of a process: H264 (no B-frames, a key frame every GOP) and Opus, as RTP. */
export function renditionOutputs(output: RenditionOutput, index: number): { url: string; options: string[] }[] {
  const { plan, video, audio } = output;
  const kbps = plan.bitrateKbps;
  const outputs = [
    {
      url: rtpUrl(video),
      options: [
        '-map', `[v${index}]`, '-c:v', 'libx264', '-preset', plan.preset, '-tune', plan.tune, '-profile:v', plan.profile, '-level:v', plan.level, '-bf', '0',
        // Key frames where the source has them (so a player switching between the source and its renditions, HLS
        // variants or WebRTC layers, finds a key frame at the same moment in each), and at least every GOP; none at
        // scene cuts. FFmpeg cannot take key-frame requests.
        '-force_key_frames', 'source', '-g', String(plan.gopFrames), '-keyint_min', String(plan.gopFrames), '-sc_threshold', '0', '-fps_mode', 'passthrough',
        // x264 spends the bitrate per frame at the rate it is told, and a branch that drops frames (select keeps
        // the source's timestamps) would otherwise tell it the source's rate: half the bitrate at half the rate.
        '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-x264-params', `fps=${plan.rate}`,
        '-f', 'rtp', '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc),
      ],
    },
  ];
  if (audio) {
    outputs.push({
      url: rtpUrl(audio),
      options: ['-map', `[a${index}]`, '-c:a', 'libopus', '-b:a', `${plan.opusKbps}k`, '-ac', '2', '-application', 'lowdelay', '-frame_duration', '20', '-f', 'rtp', '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc)],
    });
  }
  return outputs;
}
