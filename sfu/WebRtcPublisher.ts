// A WHIP publisher: its WebRtcTransport and one Producer per accepted audio/video section of its offer.
import type { types as ms } from 'mediasoup';
import { SdpError } from './errors.js';
import type { Logger } from './logger.js';
import { writeAnswer, type AnswerSection } from './sdp/answer.js';
import type { ParsedOffer } from './sdp/offer.js';
import type { AcceptedSendMedia } from './sdp/rtpParameters.js';
import { createPeerTransport, WebRtcPeer, type PeerParts, type PeerTimeouts } from './WebRtcPeer.js';
import type { WorkerSlot } from './WorkerPool.js';

export class WebRtcPublisher extends WebRtcPeer {
  private constructor(
    peer: PeerParts,
    readonly producers: ms.Producer[],
  ) {
    super(peer);
  }

  /** Creates the transport and the producers of the accepted sections; nothing is left behind on failure. */
  static async create(
    id: string,
    router: ms.Router,
    slot: WorkerSlot,
    offer: ParsedOffer,
    accepted: AcceptedSendMedia[],
    timeouts: PeerTimeouts,
    logger: Logger,
  ): Promise<{ publisher: WebRtcPublisher; answer: string }> {
    const transport = await createPeerTransport(router, slot, offer, {});
    const producers: ms.Producer[] = [];
    try {
      for (const a of accepted) {
        try {
          producers.push(await transport.produce({ kind: a.kind, rtpParameters: a.rtpParameters }));
        } catch (error) {
          throw new SdpError(`cannot receive ${a.kind} section mid=${a.media.mid}: ${(error as Error).message}`);
        }
      }
    } catch (error) {
      transport.close();
      throw error;
    }
    const publisher = new WebRtcPublisher({ id, transport, slot, offer, timeouts, logger }, producers);
    const sections: AnswerSection[] = offer.media.map((m) => {
      const a = accepted.find((x) => x.media === m);
      return a && { direction: 'recvonly', rtpParameters: a.rtpParameters, rids: m.rids };
    });
    return { publisher, answer: writeAnswer(offer, publisher.localIce(), sections) };
  }
}
