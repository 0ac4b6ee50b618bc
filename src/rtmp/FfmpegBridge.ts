// The RTMP bridge to the SFU: an FFmpeg fed with the publish's FLV tags that sends RTP to the stream's
// PlainTransports. Video is copied (with SPS/PPS put in-band) or re-encoded to H264 without B-frames, audio is
// re-encoded to Opus, as the StreamPlan says. Tuned for latency: no probing, no input buffering, zero-latency x264.
import type { Logger } from 'pino';
import { feedInput, type FfmpegProcesses, ManagedFfmpeg } from '../media/ffmpeg/ManagedFfmpeg.js';
import type { FlvSource } from '../media/flv/FlvFeed.js';
import type { StreamPlan } from './streamAnalysis.js';

/** Where one track's RTP goes, and the fixed local ports FFmpeg sends it from (the SFU expects them). */
export interface RtpTarget {
  ip: string;
  port: number;
  rtcpPort: number;
  localPort: number;
  payloadType: number;
  ssrc: number;
}

export interface BridgeOptions {
  feed: FlvSource;
  plan: StreamPlan;
  video: RtpTarget | undefined;
  audio: RtpTarget | undefined;
  /** Bitrate for re-encoded video: the source's, as far as it is known. */
  videoKbps: number;
  /** Send with arrival timestamps instead of the encoder's (config rtmp.timestamps, src/media/flv/retime.ts). */
  retime: boolean;
  ffmpegs: FfmpegProcesses;
  logger: Logger;
}

/** The bridge's FFmpeg (restarted from the next key frame if it dies while the encoder is still connected). */
export function ffmpegBridge(options: BridgeOptions): ManagedFfmpeg {
  const { video, audio, plan } = options;
  return new ManagedFfmpeg({
    input: feedInput(options.feed, 'gop', ['-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'], { retime: options.retime }),
    graceful: false,
    ffmpegs: options.ffmpegs,
    logger: options.logger,
    output: (command) => {
      if (video && plan.video) command.output(rtpUrl(video)).outputOptions(['-map', '0:v:0', ...videoOptions(plan.video.copy, options.videoKbps), '-f', 'rtp', '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc)]);
      if (audio) {
        command.output(rtpUrl(audio)).outputOptions(['-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '128k', '-application', 'lowdelay', '-frame_duration', '20', '-f', 'rtp', '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc)]);
      }
    },
  });
}

function videoOptions(copy: boolean, kbps: number): string[] {
  if (copy) return ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb'];
  // One key frame a second: FFmpeg cannot take the SFU's key-frame requests, so a joining viewer waits at most 1 s.
  return [
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-bf', '0', '-pix_fmt', 'yuv420p',
    '-force_key_frames', 'expr:gte(t,n_forced*1)', '-sc_threshold', '0', '-fps_mode', 'passthrough',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
  ];
}

function rtpUrl(target: RtpTarget): string {
  return `rtp://${target.ip}:${target.port}?rtcpport=${target.rtcpPort}&localrtpport=${target.localPort}&localrtcpport=${target.localPort + 1}&pkt_size=1200`;
}
