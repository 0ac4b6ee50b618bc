// A publisher whose media arrives as plain RTP from a local process (the FFmpeg bridge of RTMP ingest): one
// PlainTransport + Producer per track. The sender's source ports are fixed and given up front (comedia off), so a
// restarted FFmpeg that binds the same ports is accepted again without recreating producers, and RTCP sender
// reports (on their own port, no mux) reach mediasoup.
import type { types as ms } from 'mediasoup';
import { Endpoint } from './Endpoint.js';
import type { Logger } from './logger.js';
import type { TrackCodec, TrackKind } from './tracks.js';
import type { WorkerSlot } from './WorkerPool.js';

export interface PlainTrackSpec {
  kind: TrackKind;
  /** The codec as the sender numbers it (payload type, parameters). */
  codec: TrackCodec;
  ssrc: number;
  /**
   * Simulcast: the SSRCs of the layers below `ssrc`, lowest first (`ssrc` is the top layer). All layers come from
   * the one source address, and each needs its own RTCP sender reports (mediasoup switches layers by them).
   */
  lowerLayerSsrcs?: number[];
  /** Where the sender sends from: RTP on `port`, RTCP on `rtcpPort` (we send RTCP back there). */
  source: { ip: string; port: number; rtcpPort: number };
}

export interface PlainEndpoint {
  kind: TrackKind;
  ip: string;
  port: number;
  rtcpPort: number;
}

export class PlainPublisher extends Endpoint {
  private constructor(
    id: string,
    transports: ms.PlainTransport[],
    readonly producers: ms.Producer[],
    /** Where each track's RTP and RTCP must be sent, in the order of the specs. */
    readonly endpoints: PlainEndpoint[],
    slot: WorkerSlot,
    logger: Logger,
  ) {
    super(id, slot, transports, logger);
  }

  static async create(id: string, router: ms.Router, slot: WorkerSlot, specs: PlainTrackSpec[], logger: Logger): Promise<PlainPublisher> {
    const transports: ms.PlainTransport[] = [];
    const producers: ms.Producer[] = [];
    const endpoints: PlainEndpoint[] = [];
    try {
      for (const spec of specs) {
        const transport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: false, comedia: false });
        transports.push(transport);
        await transport.connect({ ip: spec.source.ip, port: spec.source.port, rtcpPort: spec.source.rtcpPort });
        const encodings = [...(spec.lowerLayerSsrcs ?? []), spec.ssrc].map((ssrc) => ({ ssrc }));
        producers.push(await transport.produce({ kind: spec.kind, rtpParameters: { codecs: [spec.codec], encodings } }));
        const { tuple, rtcpTuple } = transport;
        endpoints.push({ kind: spec.kind, ip: tuple.localIp, port: tuple.localPort, rtcpPort: rtcpTuple?.localPort ?? tuple.localPort });
      }
    } catch (error) {
      for (const t of transports) t.close();
      throw error;
    }
    return new PlainPublisher(id, transports, producers, endpoints, slot, logger);
  }
}
