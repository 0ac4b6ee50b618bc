// One FFmpeg process (driven through fluent-ffmpeg) turning a publish's FLV tags into RTP for the SFU: video copied
// (with SPS/PPS put in-band) or re-encoded to H264 without B-frames, audio re-encoded to Opus, as the StreamPlan
// says. Tuned for latency: no probing, no input buffering, zero-latency x264. If FFmpeg dies while the encoder is
// still connected, it is restarted with backoff (from the next key frame) and its stderr tail is logged.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import ffmpeg, { type FfmpegCommand } from 'fluent-ffmpeg';
import type AVPacket from 'node-media-server/src/core/avpacket.js';
import Flv from 'node-media-server/src/protocol/flv.js';
import type { Logger } from 'pino';
import { isVideoKeyFrame, type StreamPlan } from './streamAnalysis.js';

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
  plan: StreamPlan;
  video: RtpTarget | undefined;
  audio: RtpTarget | undefined;
  /** Bitrate for re-encoded video: the source's, as far as it is known. */
  videoKbps: number;
  logger: Logger;
}

const FLV_AUDIO = 8;
const FLV_VIDEO = 9;
const MAX_BACKOFF_MS = 10_000;
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class FfmpegBridge {
  private command: FfmpegCommand | undefined;
  private input: PassThrough | undefined;
  private process: ChildProcess | undefined;
  private headerSent = false;
  private readonly sequenceHeaders = new Map<number, AVPacket>();
  private stderrTail: string[] = [];
  private restarts = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: BridgeOptions) {}

  /** The running FFmpeg's pid (tests kill it to check the restart). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  get restartCount(): number {
    return this.restarts;
  }

  start(): void {
    if (this.closed) return;
    const input = new PassThrough();
    const command = ffmpeg({ stdoutLines: 0 })
      .input(input)
      .inputFormat('flv')
      .inputOptions(['-hide_banner', '-loglevel', 'warning', '-nostats', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0']);
    const { video, audio, plan } = this.options;
    if (video && plan.video) command.output(rtpUrl(video)).outputOptions(['-map', '0:v:0', ...this.videoOptions(plan.video.copy), '-f', 'rtp', '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc)]);
    if (audio) {
      command.output(rtpUrl(audio)).outputOptions(['-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '128k', '-application', 'lowdelay', '-frame_duration', '20', '-f', 'rtp', '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc)]);
    }
    command.on('start', (line: string) => {
      // fluent-ffmpeg spawns after its own checks and keeps the child here; we wait on it and report its pid.
      const child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (this.command !== command) {
        child?.kill('SIGKILL'); // closed (or restarted) before FFmpeg even started
        return;
      }
      this.process = child;
      this.options.logger.info({ ffmpeg: line, pid: child?.pid }, 'ffmpeg started');
    });
    command.on('stderr', (line: string) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    command.on('error', (error: Error) => this.exited(error.message));
    command.on('end', () => this.exited('ffmpeg ended'));
    this.command = command;
    this.input = input;
    this.headerSent = false;
    this.startedAt = Date.now();
    command.run();
  }

  /** Feeds one tag of the publish. Each FFmpeg run starts at a key frame (at once for audio only), after the sequence headers. */
  write(packet: AVPacket): void {
    const isSequenceHeader = (packet.codec_type === FLV_VIDEO && packet.flags === 2) || (packet.codec_type === FLV_AUDIO && packet.flags === 0);
    if (isSequenceHeader) this.sequenceHeaders.set(packet.codec_type, packet);
    const input = this.input;
    if (!input || this.closed) return;
    if (!this.headerSent) {
      const isKeyFrame = isVideoKeyFrame(packet);
      if (this.options.video && !isKeyFrame) return;
      input.write(Flv.createHeader(this.options.audio !== undefined, this.options.video !== undefined));
      for (const header of this.sequenceHeaders.values()) input.write(Flv.createMessage(header));
      this.headerSent = true;
      if (isSequenceHeader) return;
    }
    // FFmpeg stalled: drop rather than hold an unbounded backlog (latency would only grow).
    if (input.writableLength > MAX_PENDING_BYTES) return;
    input.write(Flv.createMessage(packet));
  }

  /** Kills FFmpeg and waits until it has exited: nothing is left running. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.stop();
  }

  private videoOptions(copy: boolean): string[] {
    if (copy) return ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb'];
    const kbps = this.options.videoKbps;
    // One key frame a second: FFmpeg cannot take the SFU's key-frame requests, so a joining viewer waits at most 1 s.
    return [
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-bf', '0', '-pix_fmt', 'yuv420p',
      '-force_key_frames', 'expr:gte(t,n_forced*1)', '-sc_threshold', '0', '-fps_mode', 'passthrough',
      '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
    ];
  }

  private async stop(): Promise<void> {
    const process = this.process;
    this.input?.end();
    this.input = undefined;
    this.command = undefined;
    this.process = undefined;
    if (process && process.exitCode === null && process.signalCode === null) {
      const exited = once(process, 'exit');
      process.kill('SIGKILL');
      await exited;
    }
  }

  private exited(reason: string): void {
    if (this.closed || !this.command) return;
    const backoff = Date.now() - this.startedAt > 10_000 ? 500 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.restarts);
    this.options.logger.error({ reason, stderr: this.stderrTail.join('\n'), restartInMs: backoff }, 'ffmpeg bridge exited; restarting');
    this.restarts++;
    this.stderrTail = [];
    void this.stop().then(() => {
      if (this.closed) return;
      this.restartTimer = setTimeout(() => this.start(), backoff);
    });
  }
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
        if (error) logger.error({ err: error }, 'cannot run ffmpeg: RTMP ingest will fail');
      });
    });
  });
}

function rtpUrl(target: RtpTarget): string {
  return `rtp://${target.ip}:${target.port}?rtcpport=${target.rtcpPort}&localrtpport=${target.localPort}&localrtcpport=${target.localPort + 1}&pkt_size=1200`;
}
