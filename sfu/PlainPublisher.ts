// A publisher whose media arrives as plain RTP from a local process (the FFmpeg bridge of RTMP ingest): one
// PlainTransport + Producer per track. The sender's source ports are fixed and given up front (comedia off), so a
// restarted FFmpeg that binds the same ports is accepted again without recreating producers, and RTCP sender
// reports (on their own port, no mux) reach mediasoup.
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { Logger } from './logger.js';
import type { PeerEvents } from './WebRtcPeer.js';
import type { WorkerSlot } from './WorkerPool.js';

export interface PlainTrackSpec {
  kind: ms.MediaKind;
  /** The codec as the sender numbers it (payload type, parameters). */
  codec: ms.RtpCodecParameters;
  ssrc: number;
  /** Where the sender sends from: RTP on `port`, RTCP on `rtcpPort` (we send RTCP back there). */
  source: { ip: string; port: number; rtcpPort: number };
}

export interface PlainEndpoint {
  kind: ms.MediaKind;
  ip: string;
  port: number;
  rtcpPort: number;
}

export class PlainPublisher extends EventEmitter<PeerEvents> {
  private closedReason: string | undefined;

  private constructor(
    readonly id: string,
    private readonly transports: ms.PlainTransport[],
    readonly producers: ms.Producer[],
    private readonly slot: WorkerSlot,
    private readonly logger: Logger,
  ) {
    super();
    slot.load++;
  }

  static async create(id: string, router: ms.Router, slot: WorkerSlot, specs: PlainTrackSpec[], logger: Logger): Promise<PlainPublisher> {
    const transports: ms.PlainTransport[] = [];
    const producers: ms.Producer[] = [];
    try {
      for (const spec of specs) {
        const transport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: false, comedia: false });
        transports.push(transport);
        await transport.connect({ ip: spec.source.ip, port: spec.source.port, rtcpPort: spec.source.rtcpPort });
        producers.push(await transport.produce({ kind: spec.kind, rtpParameters: { codecs: [spec.codec], encodings: [{ ssrc: spec.ssrc }] } }));
      }
    } catch (error) {
      for (const t of transports) t.close();
      throw error;
    }
    return new PlainPublisher(id, transports, producers, slot, logger);
  }

  /** Where each track's RTP and RTCP must be sent, in the order of the specs. */
  get endpoints(): PlainEndpoint[] {
    return this.transports.map((t, i) => ({
      kind: this.producers[i]?.kind ?? 'video',
      ip: t.tuple.localIp,
      port: t.tuple.localPort,
      rtcpPort: t.rtcpTuple?.localPort ?? t.tuple.localPort,
    }));
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  close(reason = 'closed'): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.slot.load--;
    for (const t of this.transports) t.close();
    this.logger.info({ reason }, 'plain publisher closed');
    this.emit('close', reason);
  }
}
