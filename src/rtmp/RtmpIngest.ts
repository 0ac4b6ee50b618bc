// RTMP ingest (rtmp://host:1935/{app}/{stream}[?query]): node-media-server's RTMP protocol engine per connection,
// admission through the same StreamRegistry as WHIP (auth, 409, names), then, once the first key frame shows what
// the stream needs, a PlainTransport publisher in the SFU fed by an FFmpeg bridge. The encoder leaving ends it all.
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type AVPacket from 'node-media-server/src/core/avpacket.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import Rtmp, { type InvokeMessage } from 'node-media-server/src/protocol/rtmp.js';
import type { Logger } from 'pino';
import type { PlainPublisher } from '../../sfu/index.js';
import { isStreamName, Refusal, streamPath, type StreamIdentity } from '../core/index.js';
import type { Config } from '../config/config.js';
import type { RegistryAdmission, StreamRegistry } from '../streams/StreamRegistry.js';
import { type FfmpegProcesses, warmUpFfmpeg } from '../media/ffmpeg/ManagedFfmpeg.js';
import { FlvFeed, type FlvSource } from '../media/flv/FlvFeed.js';
import type { RenditionPlan } from '../media/transcoding/plan.js';
import type { FlvTag } from '../media/flv/tag.js';
import { ffmpegBridge, type RtmpBridge } from './FfmpegBridge.js';
import { h264OpusTracks, rtpTargets } from '../media/ffmpeg/rtp.js';
import { StreamAnalysis, UnsupportedStreamError, type StreamPlan } from './streamAnalysis.js';

nmsLogger.level = 'error';

/** Tags kept while the stream is analysed (a GOP or two); more means the encoder sends no key frame. */
const MAX_ANALYSIS_TAGS = 2000;
/** RTMP's handshake starts with its version byte, 3. */
const RTMP_VERSION = 3;
/** A connection that has not started publishing by then is closed (scanners, stalled handshakes). */
const PUBLISH_DEADLINE_MS = 10_000;

interface PublishRequest {
  app: string;
  stream: string;
  query: Record<string, string>;
  host: string;
}

/** NMS's protocol engine with publish admission before "NetStream.Publish.Start", and no RTMP playback. */
class RtmpProtocol extends Rtmp {
  admitPublish: (request: PublishRequest) => Promise<void> = () => Promise.reject(new Error('not ready'));
  onRefused: () => void = () => undefined;

  override onPublish(message: InvokeMessage): void {
    const [name = '', search = ''] = message.streamName.split('?', 2);
    this.streamName = name;
    this.streamId = this.parserPacket.header.stream_id;
    const query = Object.fromEntries(new URLSearchParams(search));
    this.admitPublish({ app: this.streamApp, stream: name, query, host: this.streamHost }).then(
      () => {
        this.respondPublish();
        this.onPushCallback();
      },
      (error: unknown) => {
        const code = error instanceof Refusal && error.kind === 'conflict' ? 'NetStream.Publish.BadName' : 'NetStream.Publish.Rejected';
        this.sendStatusMessage(this.streamId, 'error', code, (error as Error).message);
        this.onRefused();
      },
    );
  }

  override onPlay(): void {
    this.sendStatusMessage(this.streamId, 'error', 'NetStream.Play.Failed', 'RTMP playback is not served: play over WHEP');
    this.onRefused();
  }
}

/** The transcoder's part in a source's WebRTC ladder. */
export interface WebRtcLadders {
  /** The renditions of the source's WebRTC ladder, lowest first (none when no ladder applies). */
  webrtcLadder(source: StreamIdentity, feed: FlvSource): Promise<RenditionPlan[]>;
  /** The same layers planned again for the source's video as it is now (after a size change), each brought within it. */
  refitWebrtcLadder(layers: readonly RenditionPlan[], source: StreamIdentity, feed: FlvSource): Promise<RenditionPlan[]>;
}

const NO_LADDERS: WebRtcLadders = { webrtcLadder: () => Promise.resolve([]), refitWebrtcLadder: (layers) => Promise.resolve([...layers]) };

/** One RTMP publish, from admission to the end of its FFmpeg bridge. */

export class RtmpPublish {
  readonly id = randomUUID();
  private readonly analysis = new StreamAnalysis();
  private readonly pending: AVPacket[] = [];
  private publisher: PlainPublisher | undefined;
  private bridgeInstance: RtmpBridge | undefined;
  private readonly onVideoChange = () => void this.followVideo();
  /** The publish as FLV tags, for the bridge and the standard-latency side (HLS, FLV, relays, recording). */
  private feed: FlvFeed | undefined;
  private planned: StreamPlan | undefined;
  private videoKbps = 2500;
  private ended = false;

  constructor(
    readonly request: PublishRequest,
    private readonly admission: RegistryAdmission,
    private readonly end: (reason: string) => void,
    private readonly ffmpegs: FfmpegProcesses,
    private readonly logger: Logger,
    private readonly timestamps: 'arrival' | 'source',
    private readonly ladders: WebRtcLadders,
  ) {}

  get plan(): StreamPlan | undefined {
    return this.planned;
  }

  get bridge(): RtmpBridge | undefined {
    return this.bridgeInstance;
  }

  /** The SPS the encoder sent, to compare with what viewers receive. */
  get sourceSps(): Buffer | undefined {
    return this.analysis.sps;
  }

  onPacket(packet: AVPacket): void {
    if (this.ended) return;
    // The RTMP parser reuses its payload buffer for the next message; tags are kept (analysis, GOP cache): copy.
    packet.data = Buffer.from(packet.data.subarray(0, packet.size));
    if (packet.codec_type === 18) this.readMetadataBitrate(packet);
    if (this.feed) {
      this.feed.push(tagOf(packet));
      return;
    }
    this.pending.push(packet);
    let plan: StreamPlan | undefined;
    try {
      plan = this.analysis.add(packet);
    } catch (error) {
      if (error instanceof UnsupportedStreamError) return this.fail(error.message);
      throw error;
    }
    if (plan) {
      this.planned = plan;
      const feed = new FlvFeed(streamPath(this.request), { audio: plan.audio, video: plan.video !== undefined });
      this.feed = feed;
      for (const pending of this.pending.splice(0)) feed.push(tagOf(pending));
      this.startBridge(plan, feed).catch((error: unknown) => this.fail(`cannot start the bridge: ${(error as Error).message}`));
    } else if (this.pending.length > MAX_ANALYSIS_TAGS) {
      this.fail(`no video key frame in the first ${MAX_ANALYSIS_TAGS} tags`);
    }
  }

  async close(reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.pending.length = 0;
    this.feed?.off('videoConfig', this.onVideoChange);
    this.feed?.end();
    await this.bridgeInstance?.close();
    if (this.publisher) this.publisher.close(reason);
    else this.admission.abort();
    this.logger.info({ reason }, 'RTMP publish ended');
  }

  private async startBridge(plan: StreamPlan, feed: FlvFeed): Promise<void> {
    const admission = this.admission;
    // A WebRTC ladder makes the video simulcast: the source's layer on top, the renditions below it.
    const ladder = plan.video ? await this.ladders.webrtcLadder(this.identity, feed) : [];
    if (this.ended) return;
    const specs = await h264OpusTracks({ profileLevelId: plan.video?.profileLevelId, audio: plan.audio, lowerLayers: ladder.length });
    const publisher = await admission.room.publishPlain(this.id, specs, admission.role);
    if (this.ended) {
      publisher.close('encoder left');
      return;
    }
    this.publisher = publisher;
    admission.commit(publisher, { protocol: 'rtmp', transcode: plan.transcode, query: this.request.query, feed });
    publisher.once('close', (reason) => this.end(`stream closed: ${reason}`));
    const targets = rtpTargets(publisher.endpoints, specs);
    const bridge = ffmpegBridge({ feed, plan, video: targets.video, audio: targets.audio, videoKbps: this.videoKbps, retime: this.timestamps === 'arrival', ladder, ffmpegs: this.ffmpegs, logger: this.logger });
    this.bridgeInstance = bridge;
    feed.on('videoConfig', this.onVideoChange);
    this.logger.info({ transcode: plan.transcode, reason: plan.reason, ladder: ladder.map((l) => `${l.templateId}:${l.width}x${l.height}@${l.bitrateKbps}k`) }, 'RTMP stream live');
    bridge.start();
  }

  private get identity(): StreamIdentity {
    return { host: this.request.host, app: this.request.app, stream: this.request.stream };
  }

  /**
   * The encoder changed its video mid-stream (another size). A copy follows by itself (the feed puts the new SPS/PPS
   * in band); a re-encode and the ladder's layers need a new run of the bridge, the layers planned for the new size.
   */
  private async followVideo(): Promise<void> {
    const { bridgeInstance: bridge, feed, planned } = this;
    if (!bridge || !feed || this.ended || !planned?.video || (planned.video.copy && bridge.ladderLayers.length === 0)) return;
    try {
      const ladder = await this.ladders.refitWebrtcLadder(bridge.ladderLayers, this.identity, feed);
      if (this.ended) return;
      this.logger.info({ ladder: ladder.map((l) => `${l.templateId}:${l.width}x${l.height}`) }, 'source video changed: bridge restarted to follow it');
      await bridge.followVideo(ladder);
    } catch (error) {
      this.logger.error({ err: error }, "cannot follow the source's new video: the bridge goes on as it was");
    }
  }

  private readMetadataBitrate(packet: AVPacket): void {
    // Only a hint for the re-encoder's bitrate; the transcode decision never reads metadata.
    const match = /videodatarate.{0,3}([\s\S]{8})/.exec(packet.data.toString('latin1'));
    const raw = match?.[1];
    if (raw && raw.length === 8) {
      const kbps = Buffer.from(raw, 'latin1').readDoubleBE(0);
      if (Number.isFinite(kbps) && kbps >= 100 && kbps <= 50_000) this.videoKbps = Math.round(kbps);
    }
  }

  private fail(reason: string): void {
    this.logger.warn({ reason }, 'RTMP publish refused');
    this.end(reason);
  }
}

export class RtmpIngest {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly publishes = new Set<RtmpPublish>();

  constructor(
    private readonly registry: StreamRegistry,
    private readonly config: Config,
    private readonly ffmpegs: FfmpegProcesses,
    private readonly logger: Logger,
    private readonly ladders: WebRtcLadders = NO_LADDERS,
  ) {}

  /** Open RTMP connections, publishing or not yet. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Publishes in progress (for the API and tests). */
  list(): RtmpPublish[] {
    return [...this.publishes];
  }

  async listen(): Promise<number> {
    warmUpFfmpeg(this.logger);
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    server.listen(this.config.rtmp.port, this.config.rtmp.host);
    await once(server, 'listening');
    const address = server.address();
    return typeof address === 'object' && address ? address.port : this.config.rtmp.port;
  }

  async close(): Promise<void> {
    this.server?.close();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([...this.publishes].map((p) => p.close('server shutting down')));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    const peer = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    const logger = this.logger.child({ rtmpClient: peer });
    const rtmp = new RtmpProtocol();
    let publish: RtmpPublish | undefined;
    const end = (reason: string): void => {
      if (!socket.destroyed) socket.end();
      void publish?.close(reason).finally(() => publish && this.publishes.delete(publish));
    };
    rtmp.onOutputCallback = (buffer) => {
      if (!socket.destroyed) socket.write(buffer);
    };
    rtmp.onRefused = () => socket.end();
    rtmp.admitPublish = async (request) => {
      this.checkPublish(request);
      const admission = await this.registry.admitPublish({
        app: request.app,
        stream: request.stream,
        protocol: 'rtmp',
        bearerToken: request.query.token,
        query: request.query,
        ip: socket.remoteAddress ?? '',
        host: request.host,
        path: `/${request.app}/${request.stream}`,
      });
      // The encoder may have left while the admission hook was asked: give the name back.
      if (socket.destroyed) {
        admission.abort();
        throw new Refusal('not-found', 'the encoder disconnected during admission');
      }
      publish = new RtmpPublish(request, admission, end, this.ffmpegs, logger.child({ session: randomUUID(), stream: streamPath(request) }), this.config.rtmp.timestamps, this.ladders);
      this.publishes.add(publish);
      logger.info({ stream: streamPath(request) }, 'RTMP publish admitted');
    };
    rtmp.onPacketCallback = (packet) => publish?.onPacket(packet);
    const deadline = setTimeout(() => {
      if (!publish) {
        logger.warn('no RTMP publish within 10 s; closing the connection');
        socket.destroy();
      }
    }, PUBLISH_DEADLINE_MS);
    let first = true;
    socket.on('data', (data: Buffer) => {
      if (first && data[0] !== RTMP_VERSION) {
        logger.warn({ firstByte: data[0] }, 'not an RTMP client (bad handshake version); closing the connection');
        socket.destroy();
        return;
      }
      first = false;
      let error: string | null | undefined;
      try {
        error = rtmp.parserData(data);
      } catch (thrown) {
        error = (thrown as Error).message;
      }
      if (error) {
        logger.warn({ error }, 'RTMP protocol error; closing the connection');
        socket.destroy();
      }
    });
    socket.on('error', (error) => logger.info({ err: error }, 'RTMP socket error'));
    socket.on('close', () => {
      clearTimeout(deadline);
      this.sockets.delete(socket);
      end('encoder disconnected');
    });
  }

  /** What RTMP ingest refuses before the registry is asked: names that are not stream names. */
  private checkPublish(request: PublishRequest): void {
    if (!isStreamName(request.app) || !isStreamName(request.stream)) throw new Refusal('invalid', `invalid stream name ${request.app}/${request.stream}`);
  }
}

function tagOf(packet: AVPacket): FlvTag {
  return { type: packet.codec_type, timestamp: packet.dts, data: packet.data };
}
