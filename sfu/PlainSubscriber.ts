// A local process taking a live stream as plain RTP (the standard-latency egress FFmpeg): one PlainTransport +
// Consumer per track, sending to ports the process listens on. It lives until closed or until the stream ends.
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { Logger } from './logger.js';

/** Where the local receiver listens for one track: RTP on `port`, RTCP on `rtcpPort`. */
export interface PlainReceiver {
  kind: ms.MediaKind;
  ip: string;
  port: number;
  rtcpPort: number;
}

/** What the receiver gets on one track (its SDP is written from this). */
export interface PlainTrack {
  kind: ms.MediaKind;
  codec: ms.RtpCodecParameters;
  ssrc: number;
  receiver: PlainReceiver;
}

export class PlainSubscriber extends EventEmitter<{ close: [string] }> {
  private closedReason: string | undefined;

  private constructor(
    readonly id: string,
    private readonly transports: ms.PlainTransport[],
    private readonly consumers: ms.Consumer[],
    readonly tracks: PlainTrack[],
    private readonly logger: Logger,
  ) {
    super();
    for (const consumer of consumers) consumer.observer.once('close', () => this.close('stream ended'));
  }

  /** Consumes each producer into the receiver of its kind; producers without a receiver are skipped. */
  static async create(id: string, router: ms.Router, producers: readonly ms.Producer[], receivers: PlainReceiver[], logger: Logger): Promise<PlainSubscriber> {
    const transports: ms.PlainTransport[] = [];
    const consumers: ms.Consumer[] = [];
    const tracks: PlainTrack[] = [];
    try {
      for (const receiver of receivers) {
        const producer = producers.find((p) => p.kind === receiver.kind);
        if (!producer) continue;
        const transport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: false, comedia: false });
        transports.push(transport);
        await transport.connect({ ip: receiver.ip, port: receiver.port, rtcpPort: receiver.rtcpPort });
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
        consumers.push(consumer);
        const codec = consumer.rtpParameters.codecs[0];
        const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        if (!codec || ssrc === undefined) throw new Error(`consumer of ${producer.kind} has no codec or SSRC`);
        tracks.push({ kind: receiver.kind, codec, ssrc, receiver });
      }
    } catch (error) {
      for (const t of transports) t.close();
      throw error;
    }
    return new PlainSubscriber(id, transports, consumers, tracks, logger);
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Asks the publisher for a key frame (a receiver joining, or segments to cut). */
  requestKeyFrame(): void {
    for (const consumer of this.consumers) if (consumer.kind === 'video' && !consumer.closed) void consumer.requestKeyFrame().catch(() => undefined);
  }

  close(reason = 'closed'): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const t of this.transports) t.close();
    this.logger.info({ reason }, 'plain subscriber closed');
    this.emit('close', reason);
  }
}
