// The WebRTC ladder of a WHIP source that sends one H264 layer (OBS, a browser without simulcast): the stream's
// viewers get a simulcast video whose top layer is the publisher's own video, forwarded as it comes (no decode, no
// delay), and whose lower layers are renditions of it made by one FFmpeg from the stream's feed (one decode).
// - The top layer leaves the SFU through a plain consumer, the renditions through FFmpeg's outputs; both go through a
//   LayerMux in 'arrival' mode into a plain producer on the stream's origin router, which the Room serves new viewers
//   in place of the publisher's video. The mux gives the layers their SSRCs and sender reports on one clock, and
//   passes the SFU's key-frame requests for the top layer on to the publisher.
// - A rendition layer is as late as its decode and encode make it (measured by bench:ladder), and its key frames
//   come every GOP of its template: FFmpeg cannot take key-frame requests.
// - A crash of the FFmpeg takes the lower layers away until ManagedFfmpeg's restart: viewers fall back to the top
//   layer meanwhile, which never stops.
import { randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PlainPublisher, PlainSubscriber, PlainTrackSpec, Room } from '../../../sfu/index.js';
import { LayerMux } from '../ffmpeg/LayerMux.js';
import type { FfmpegProcesses } from '../ffmpeg/ManagedFfmpeg.js';
import type { RtpTarget } from '../ffmpeg/rtp.js';
import { freeUdpPortPair } from '../ffmpeg/udpPorts.js';
import type { FlvSource } from '../flv/FlvFeed.js';
import type { RenditionPlan } from './plan.js';
import { LadderRenditions } from './RenditionEncoder.js';

/** Why a WHIP stream cannot have a WebRTC ladder, or undefined when it can. */
export function whipLadderMisfit(room: Room): string | undefined {
  const video = room.tracks().find((t) => t.kind === 'video');
  if (!video) return 'it has no video';
  if (video.simulcastLayers > 1) return 'its publisher sends simulcast itself';
  if (video.codec.mimeType.toLowerCase() !== 'video/h264') return `its video is ${video.codec.mimeType}: the ladder's layers are H264, and one track has one codec`;
  return undefined;
}

export class WhipLadder {
  private closed = false;

  private constructor(
    private readonly publisher: PlainPublisher,
    private readonly mux: LayerMux,
    private readonly subscriber: PlainSubscriber,
    private readonly renditions: LadderRenditions,
    /** The renditions as they are made now, lowest first. */
    private current: readonly RenditionPlan[],
  ) {}

  get layers(): readonly RenditionPlan[] {
    return this.current;
  }

  /** Starts the ladder with these renditions (lowest first) below the source; the stream must fit it (whipLadderMisfit). */
  static async start(room: Room, feed: FlvSource, layers: readonly RenditionPlan[], ffmpegs: FfmpegProcesses, logger: Logger): Promise<WhipLadder> {
    const video = room.tracks().find((t) => t.kind === 'video');
    const misfit = whipLadderMisfit(room);
    if (!video || misfit) throw new Error(`no WebRTC ladder: ${misfit ?? 'no video'}`);
    const { payloadType } = video.codec;
    const localPort = await freeUdpPortPair();
    const spec: PlainTrackSpec = {
      kind: 'video',
      codec: { mimeType: video.codec.mimeType, payloadType, clockRate: video.codec.clockRate, parameters: video.codec.parameters },
      ssrc: randomInt(1, 2 ** 31),
      lowerLayerSsrcs: layers.map(() => randomInt(1, 2 ** 31)),
      source: { ip: '127.0.0.1', port: localPort, rtcpPort: localPort + 1 },
    };
    const ssrcs = [...(spec.lowerLayerSsrcs ?? []), spec.ssrc];
    const top = layers.length;
    let subscriber: PlainSubscriber | undefined;
    const publisher = await room.serveVideoLadder(randomUUID(), spec);
    const [endpoint] = publisher.endpoints;
    const mux = new LayerMux({ ip: endpoint?.ip ?? '127.0.0.1', port: endpoint?.port ?? 0, rtcpPort: endpoint?.rtcpPort ?? 0, localPort }, top + 1, logger, {
      from: 'arrival',
      ssrcs,
      payloadType,
      clockRate: video.codec.clockRate,
      onKeyFrameRequest: (index) => index === top && subscriber?.requestKeyFrame(),
    });
    try {
      const [, ...ports] = await Promise.all([mux.ready, ...layers.map(() => freeUdpPortPair())]);
      subscriber = await room.subscribePlain(randomUUID(), [{ kind: 'video', ip: '127.0.0.1', ...mux.input(top) }]);
      const [consumed] = subscriber.tracks;
      if (!consumed) throw new Error('the source video cannot be consumed');
      mux.acceptSsrc(top, consumed.ssrc);
      subscriber.requestKeyFrame();
      const lowerLayers = layers.map((_, i): RtpTarget => ({ ip: '127.0.0.1', ...mux.input(i), localPort: ports[i] ?? 0, payloadType, ssrc: ssrcs[i] ?? 0 }));
      const renditions = new LadderRenditions(feed, (planned) => planned.map((plan, i) => ({ plan, video: lowerLayers[i] as RtpTarget, audio: undefined })), ffmpegs, logger);
      renditions.start(layers);
      return new WhipLadder(publisher, mux, subscriber, renditions, layers);
    } catch (error) {
      subscriber?.close('ladder failed');
      mux.close();
      publisher.close('ladder failed');
      throw error;
    }
  }

  /** The source's video changed (another size): the renditions are made again as now planned (as many as before). */
  async followVideo(layers: readonly RenditionPlan[]): Promise<void> {
    if (layers.length !== this.current.length) throw new Error(`the ladder has ${this.current.length} lower layers, not ${layers.length}`);
    this.current = layers;
    if (!this.closed) await this.renditions.restart(layers);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.renditions.close();
    this.subscriber.close('ladder stopped');
    this.mux.close();
    this.publisher.close('ladder stopped');
  }
}
