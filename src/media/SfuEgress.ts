// How a WebRTC-published stream reaches the standard-latency side: an FFmpeg takes the stream from the SFU as
// plain RTP (PlainTransport consumers) and writes FLV: H264 copied, VP8/VP9 re-encoded to H264, Opus → AAC. It
// only runs while something (HLS, HTTP-FLV, a relay, a recorder) subscribes to the stream's feed. The SFU is asked
// for a key frame every second so that players can join and segments can be cut (WebRTC encoders send key frames
// only when asked).
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import sdpTransform from 'sdp-transform';
import type { PlainSubscriber, PlainTrack, Room } from '../../sfu/index.js';
import { type FfmpegProcesses, ManagedFfmpeg } from './ffmpeg/ManagedFfmpeg.js';
import { freeUdpPortPair } from './ffmpeg/udpPorts.js';
import { FlvFeed, type FeedDemand } from './flv/FlvFeed.js';
import { FlvDemuxer } from './flv/tag.js';

export interface EgressOptions {
  /** How often the publisher is asked for a key frame while the egress runs. */
  keyFrameIntervalMs: number;
  /** The AAC the stream's Opus becomes (default 128; a rendition's comes from its template). */
  aacKbps?: number;
}

/** The feed of a WebRTC-published stream, backed by an egress that runs on demand. */
export function egressFeed(name: string, room: Room, options: EgressOptions, ffmpegs: FfmpegProcesses, logger: Logger): FlvFeed {
  const kinds = new Set(room.tracks().map((t) => t.kind));
  let egress: SfuEgress | undefined;
  const demand: FeedDemand = {
    start: () => {
      egress = new SfuEgress(room, feed, options, ffmpegs, logger.child({ component: 'egress', stream: name }));
      egress.start();
    },
    stop: () => {
      void egress?.close();
      egress = undefined;
    },
  };
  const feed = new FlvFeed(name, { audio: kinds.has('audio'), video: kinds.has('video') }, demand);
  room.once('close', () => feed.end());
  return feed;
}

class SfuEgress {
  private subscriber: PlainSubscriber | undefined;
  private ffmpeg: ManagedFfmpeg | undefined;
  private keyFrameTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly room: Room,
    private readonly feed: FlvFeed,
    private readonly options: EgressOptions,
    private readonly ffmpegs: FfmpegProcesses,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.run().catch((error: unknown) => {
      this.logger.error({ err: error }, 'cannot start the egress');
      void this.close();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.keyFrameTimer);
    this.subscriber?.close('egress stopped');
    await this.ffmpeg?.close();
  }

  private async run(): Promise<void> {
    const receivers = await Promise.all(
      [...new Set(this.room.tracks().map((t) => t.kind))].map(async (kind) => {
        const port = await freeUdpPortPair();
        return { kind, ip: '127.0.0.1', port, rtcpPort: port + 1 };
      }),
    );
    if (this.closed) return;
    const subscriber = await this.room.subscribePlain(randomUUID(), receivers);
    if (this.closed) {
      subscriber.close('egress stopped');
      return;
    }
    this.subscriber = subscriber;
    const sdp = inputSdp(subscriber.tracks);
    const ffmpeg = new ManagedFfmpeg({
      graceful: false,
      ffmpegs: this.ffmpegs,
      logger: this.logger,
      input: (command) => {
        const input = new PassThrough();
        input.end(sdp);
        command.input(input).inputFormat('sdp').inputOptions(['-protocol_whitelist', 'pipe,udp,rtp', '-fflags', 'nobuffer', '-flags', 'low_delay', '-analyzeduration', '3000000']);
        return () => undefined;
      },
      output: (command) => {
        const output = new PassThrough();
        const demuxer = new FlvDemuxer((tag) => this.feed.push(tag));
        output.on('data', (chunk: Buffer) => {
          const error = demuxer.write(chunk);
          if (error) this.logger.error({ error }, 'egress FFmpeg wrote invalid FLV');
        });
        command.output(output, { end: true }).outputOptions([...codecOptions(subscriber.tracks, this.options.aacKbps ?? 128), '-f', 'flv', '-flvflags', 'no_duration_filesize']);
      },
    });
    ffmpeg.on('spawn', () => {
      this.feed.discontinuity();
      subscriber.requestKeyFrame();
    });
    this.ffmpeg = ffmpeg;
    ffmpeg.start();
    this.keyFrameTimer = setInterval(() => subscriber.requestKeyFrame(), this.options.keyFrameIntervalMs);
    subscriber.once('close', () => void this.close());
  }
}

/** What FFmpeg needs to receive the tracks: an SDP with their ports, payload types and codec parameters. */
function inputSdp(tracks: PlainTrack[]): string {
  return sdpTransform.write({
    version: 0,
    origin: { username: '-', sessionId: 0, sessionVersion: 0, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 'whipcast egress',
    connection: { version: 4, ip: '127.0.0.1' },
    timing: { start: 0, stop: 0 },
    media: tracks.map((track) => {
      const { codec } = track;
      const name = codec.mimeType.split('/')[1] ?? codec.mimeType;
      const params = Object.entries(codec.parameters).map(([k, v]) => `${k}=${String(v)}`).join(';');
      return {
        type: track.kind,
        port: track.receiver.port,
        protocol: 'RTP/AVP',
        payloads: String(codec.payloadType),
        rtcp: { port: track.receiver.rtcpPort },
        rtp: [{ payload: codec.payloadType, codec: name, rate: codec.clockRate, ...(codec.channels ? { encoding: codec.channels } : {}) }],
        fmtp: params ? [{ payload: codec.payloadType, config: params }] : [],
        direction: 'recvonly' as const,
      };
    }),
  });
}

/** H264 is copied; other video becomes H264 with a key frame a second; audio becomes AAC. */
function codecOptions(tracks: PlainTrack[], aacKbps: number): string[] {
  const options: string[] = [];
  const video = tracks.find((t) => t.kind === 'video');
  if (video?.codec.mimeType.toLowerCase() === 'video/h264') options.push('-map', '0:v:0', '-c:v', 'copy');
  else if (video) {
    options.push('-map', '0:v:0', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-pix_fmt', 'yuv420p', '-crf', '23', '-maxrate', '3000k', '-bufsize', '3000k', '-force_key_frames', 'expr:gte(t,n_forced*1)');
  }
  if (tracks.some((t) => t.kind === 'audio')) options.push('-map', '0:a:0', '-c:a', 'aac', '-b:a', `${aacKbps}k`, '-ar', '48000', '-ac', '2');
  return options;
}
