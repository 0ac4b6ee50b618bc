// A local process taking a live stream as plain RTP (the standard-latency egress FFmpeg): one PlainTransport +
// Consumer per track, sending to ports the process listens on. It lives until closed or until the stream ends.
import type { types as ms } from 'mediasoup';
import { Endpoint } from './Endpoint.js';
import type { Logger } from './logger.js';
import { mediaCodec, trackCodec, type TrackCodec, type TrackKind } from './tracks.js';
import type { WorkerSlot } from './WorkerPool.js';

/** Where the local receiver listens for one track: RTP on `port`, RTCP on `rtcpPort`. */
export interface PlainReceiver {
  kind: TrackKind;
  ip: string;
  port: number;
  rtcpPort: number;
}

/** What the receiver gets on one track (its SDP is written from this). */
export interface PlainTrack {
  kind: TrackKind;
  codec: TrackCodec;
  ssrc: number;
  receiver: PlainReceiver;
}

export class PlainSubscriber extends Endpoint {
  private constructor(
    id: string,
    transports: ms.PlainTransport[],
    private readonly consumers: ms.Consumer[],
    readonly tracks: PlainTrack[],
    slot: WorkerSlot,
    logger: Logger,
  ) {
    super(id, slot, transports, logger);
    for (const consumer of consumers) consumer.observer.once('close', () => this.close('stream ended'));
  }

  /** Consumes each producer into the receiver of its kind; producers without a receiver are skipped. */
  static async create(
    id: string,
    router: ms.Router,
    slot: WorkerSlot,
    producers: readonly ms.Producer[],
    receivers: PlainReceiver[],
    logger: Logger,
  ): Promise<PlainSubscriber> {
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
        const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        if (ssrc === undefined) throw new Error(`consumer of ${producer.kind} has no SSRC`);
        tracks.push({ kind: receiver.kind, codec: trackCodec(mediaCodec(consumer.rtpParameters)), ssrc, receiver });
      }
    } catch (error) {
      for (const t of transports) t.close();
      throw error;
    }
    return new PlainSubscriber(id, transports, consumers, tracks, slot, logger);
  }

  /** Asks the publisher for a key frame (a receiver joining, or segments to cut). */
  requestKeyFrame(): void {
    for (const consumer of this.consumers) if (consumer.kind === 'video' && !consumer.closed) void consumer.requestKeyFrame().catch(() => undefined);
  }
}
