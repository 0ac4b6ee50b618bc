// The RTMP bridge to the SFU: an FFmpeg fed with the publish's FLV tags that sends RTP to the stream's
// PlainTransports. Video is copied (with SPS/PPS put in-band) or re-encoded to H264 without B-frames, audio is
// re-encoded to Opus, as the StreamPlan says. Tuned for latency: no probing, no input buffering, zero-latency x264.
// The Opus goes through a pacer (OpusPacer.ts) that sends it on steadily with steady timestamps: FFmpeg writes it in
// bursts, which made browsers buffer ~130 ms of audio and, with lip sync, hold the video back as much. The sender
// reports of both tracks carry the wall clock: the pacer's for audio, FFmpeg's for video from the run's
// timestamp origin (-start_time_realtime).
// With a WebRTC ladder the video track is simulcast, the ladder's renditions the layers below the source's. They
// reach the SFU through a LayerMux, since the SFU takes a track from one address.
// - A copied source: the renditions are an FFmpeg of their own (renditionEncoder: one decode of the feed), so that
//   its crash leaves the source layer flowing and its viewers are moved onto it. The mux writes the layers' sender
//   reports from their packets' arrival (the two processes' timelines are unrelated).
// - A re-encoded source (B-frames): the bridge's FFmpeg makes them too, from the decode it does anyway, with one
//   timeline and one clock in their sender reports; a crash takes every layer down until the restart.
import type { Logger } from 'pino';
import { type FfmpegProcesses, ManagedFfmpeg } from '../media/ffmpeg/ManagedFfmpeg.js';
import { LayerMux } from '../media/ffmpeg/LayerMux.js';
import { rtpUrl, type RtpTarget } from '../media/ffmpeg/rtp.js';
import { freeUdpPortPair } from '../media/ffmpeg/udpPorts.js';
import type { FlvSource } from '../media/flv/FlvFeed.js';
import { filterGraph, renditionOutputs, type RenditionPlan } from '../media/transcoding/plan.js';
import { LadderRenditions } from '../media/transcoding/RenditionEncoder.js';
import { bridgeInput } from './bridgeInput.js';
import { OpusPacer } from './OpusPacer.js';
import type { StreamPlan } from './streamAnalysis.js';

export interface BridgeOptions {
  feed: FlvSource;
  plan: StreamPlan;
  video: RtpTarget | undefined;
  audio: RtpTarget | undefined;
  /** Bitrate for re-encoded video: the source's, as far as it is known. */
  videoKbps: number;
  /** Send with arrival timestamps instead of the encoder's (config rtmp.timestamps, see bridgeInput.ts). */
  retime: boolean;
  /** The WebRTC ladder's renditions, lowest first: the video target's lower layers (its lowerLayerSsrcs). */
  ladder: readonly RenditionPlan[];
  ffmpegs: FfmpegProcesses;
  logger: Logger;
}

const INPUT_OPTIONS = ['-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'];

/** The bridge's FFmpeg (restarted from the next key frame if it dies while the encoder is still connected). */
export function ffmpegBridge(options: BridgeOptions): RtmpBridge {
  const { video, audio, plan } = options;
  /** The ladder's layers as they are made now (a size change plans them again). */
  const ladder = { layers: options.ladder };
  const pacer = audio ? new OpusPacer(audio, options.logger) : undefined;
  // FFmpeg's local ports towards the pacer (the SFU's fixed ones are the pacer's).
  const pacerPorts = pacer ? Promise.all([pacer.ready, freeUdpPortPair()]).then(([, port]) => port) : Promise.resolve(undefined);
  /** The renditions come from an FFmpeg of their own (a copied source), not from the bridge's. */
  const apart = plan.video?.copy === true;
  const layers = video && plan.video && ladder.layers.length > 0 ? ladderLayers(video, ladder.layers.length, apart, options.logger) : undefined;
  const renditions = layers && apart ? new LadderRenditions(options.feed, layers.lower, options.ffmpegs, options.logger.child({ component: 'webrtc-ladder' })) : undefined;
  let localPort: number | undefined;
  /** Wall-clock time (ms) of the current run's timestamp 0. */
  let originMs = 0;
  const ready = Promise.all([pacerPorts.then((port) => (localPort = port)), layers?.ready]);
  return new RtmpBridge(ready, [pacer, layers?.mux], ladder, renditions, options.logger, {
    input: bridgeInput(options.feed, INPUT_OPTIONS, options.retime, (run) => (originMs = run.originMs)),
    graceful: false,
    ffmpegs: options.ffmpegs,
    logger: options.logger,
    output: (command) => {
      const realtime = ['-start_time_realtime', String(Math.round(originMs * 1000))];
      if (video && plan.video) {
        const top = layers ? layers.top() : video;
        command.output(rtpUrl(top)).outputOptions(['-map', '0:v:0', ...videoOptions(plan.video.copy, options.videoKbps), ...realtime, '-f', 'rtp', '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc)]);
        if (layers && !apart) {
          command.complexFilter(filterGraph(ladder.layers, false));
          layers.lower(ladder.layers).forEach((output, i) => {
            for (const { url, options: outputOptions } of renditionOutputs(output, i)) command.output(url).outputOptions([...outputOptions, ...realtime]);
          });
        }
      }
      if (audio && pacer && localPort !== undefined) {
        const toPacer = { ...audio, ip: '127.0.0.1', port: pacer.inputPort, rtcpPort: pacer.inputPort, localPort };
        command.output(rtpUrl(toPacer)).outputOptions(['-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '128k', '-application', 'lowdelay', '-frame_duration', '20', '-f', 'rtp', '-rtpflags', 'skip_rtcp', '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc)]);
      }
    },
  });
}

/**
 * Where the ladder's layers go: each to its input of a LayerMux, sent from FFmpeg's own local ports (the mux's are
 * the SFU's fixed ones). Layer index 0 is the lowest; the source's is the last. `apart`: the renditions come from
 * another process than the source layer.
 */
function ladderLayers(video: RtpTarget, count: number, apart: boolean, logger: Logger) {
  const ssrcs = video.lowerLayerSsrcs ?? [];
  if (ssrcs.length !== count) throw new Error(`the video track has ${ssrcs.length} lower layers, the ladder ${count}`);
  // An RTMP source takes no key-frame requests: FFmpeg makes one every GOP.
  const reports = apart ? { from: 'arrival' as const, ssrcs: [...ssrcs, video.ssrc], payloadType: video.payloadType, clockRate: 90_000, onKeyFrameRequest: () => undefined } : { from: 'senders' as const };
  const mux = new LayerMux(video, count + 1, logger, reports);
  let localPorts: number[] = [];
  const ready = Promise.all([mux.ready, ...ssrcs.map(() => freeUdpPortPair()), freeUdpPortPair()]).then(([, ...ports]) => {
    localPorts = ports;
  });
  const target = (index: number, ssrc: number): RtpTarget => ({ ...mux.input(index), ip: '127.0.0.1', localPort: localPorts[index] as number, payloadType: video.payloadType, ssrc });
  return {
    mux,
    ready,
    top: () => target(count, video.ssrc),
    lower: (ladder: readonly RenditionPlan[]) => ladder.map((plan, i) => ({ plan, video: target(i, ssrcs[i] as number), audio: undefined })),
  };
}

/**
 * The bridge's FFmpeg, the sockets it sends through (the audio pacer, the ladder's mux) and the ladder's own FFmpeg
 * when there is one: starts once the sockets are bound, closes them all.
 */
export class RtmpBridge extends ManagedFfmpeg {
  constructor(
    private readonly socketsReady: Promise<unknown>,
    private readonly owned: ({ close(): void } | undefined)[],
    private readonly ladderState: { layers: readonly RenditionPlan[] },
    private readonly renditions: LadderRenditions | undefined,
    private readonly logger: Logger,
    options: ConstructorParameters<typeof ManagedFfmpeg>[0],
  ) {
    super(options);
    // A failure is reported by start(); until then nobody waits on it.
    socketsReady.catch(() => undefined);
  }

  override start(): void {
    this.socketsReady.then(
      () => {
        super.start();
        this.renditions?.start(this.ladderState.layers);
      },
      (error: unknown) => {
        this.logger.error({ err: error }, 'cannot bind the audio pacer or the layer mux: the bridge does not start');
        this.emit('exit', `bridge sockets: ${(error as Error).message}`, '');
      },
    );
  }

  /** The WebRTC ladder's layers as they are made now, lowest first (none without a ladder). */
  get ladderLayers(): readonly RenditionPlan[] {
    return this.ladderState.layers;
  }

  /**
   * The source's video changed: the ladder's layers (as many as before) are made again as now planned, by a new run
   * of the FFmpeg that makes them; a re-encode restarts at the new size (a copy follows by itself).
   */
  async followVideo(ladder: readonly RenditionPlan[]): Promise<void> {
    if (ladder.length !== this.ladderState.layers.length) throw new Error(`the ladder has ${this.ladderState.layers.length} layers, not ${ladder.length}`);
    this.ladderState.layers = ladder;
    if (!this.renditions) return this.restart();
    await this.renditions.restart(ladder);
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.renditions?.close()]);
    for (const socket of this.owned) socket?.close();
  }
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
