// A WHEP viewer: its WebRtcTransport and one Consumer per stream track it can decode, sent with the viewer's
// own payload types (the Room serves it from a router numbered like its offer). mediasoup asks the publisher
// for a key frame as soon as the viewer's transport connects, so the first picture comes within a round trip.
import type { types as ms } from 'mediasoup';
import { NoCommonCodecError } from './errors.js';
import type { Logger } from './logger.js';
import { writeAnswer, type AnswerSection } from './sdp/answer.js';
import type { OfferedMedia, ParsedOffer } from './sdp/offer.js';
import { isMediaSection, matchViewerCodec, type ViewerTrackMatch } from './sdp/rtpParameters.js';
import type { TrackKind } from './tracks.js';
import { createPeerTransport, WebRtcPeer, type PeerParts, type PeerTimeouts } from './WebRtcPeer.js';
import type { WorkerSlot } from './WorkerPool.js';

/** A track of the live stream, as one router knows it. */
export interface TrackSource {
  producerId: string;
  kind: TrackKind;
  codec: ms.RtpCodecParameters;
}

export interface Layers {
  spatialLayer: number;
  temporalLayer?: number;
}

export interface ViewerOptions {
  /** msid stream id written into the answer. */
  streamId: string;
  /**
   * false: the audio track gets a stream id of its own, so the browser does not hold the video back to keep it in
   * sync with the audio (whose playout buffer is the longer one): lowest video latency, lips a few tens of ms apart.
   */
  lipSync?: boolean;
  /** Highest simulcast layer to send (the default lets the server choose up to the top). */
  preferredLayers?: Layers;
  initialAvailableOutgoingBitrate?: number;
}

/** Which section of the viewer's offer takes which track (by index into the stream's tracks). */
export interface ViewerPlan {
  matches: { trackIndex: number; match: ViewerTrackMatch }[];
  /** Payload types the viewer uses per stream track ("-" where it takes none): the key of the router serving it. */
  payloadKey: string;
}

/** Matches each track to the first unused receiving section of its kind that can decode it. */
export function planViewer(offer: ParsedOffer, tracks: readonly TrackSource[]): ViewerPlan {
  const used = new Set<OfferedMedia>();
  const matches: ViewerPlan['matches'] = [];
  tracks.forEach((track, trackIndex) => {
    for (const m of offer.media) {
      if (used.has(m) || !isMediaSection(m) || m.kind !== track.kind || (m.direction !== 'recvonly' && m.direction !== 'sendrecv')) continue;
      const match = matchViewerCodec(m, track.codec);
      if (!match) continue;
      used.add(m);
      matches.push({ trackIndex, match });
      return;
    }
  });
  if (matches.length === 0) {
    const wanted = tracks.map((t) => t.codec.mimeType).join(' + ');
    const offered = [...new Set(offer.media.flatMap((m) => (m.direction === 'sendonly' ? [] : m.codecs.map((c) => c.mimeType))))];
    throw new NoCommonCodecError(`the offer cannot receive this stream (stream sends ${wanted || 'nothing'}; offer receives ${offered.join(', ') || 'nothing'})`, offered);
  }
  const payloadKey = tracks.map((_, i) => matches.find((x) => x.trackIndex === i)?.match.payloadType ?? '-').join(',');
  return { matches, payloadKey };
}

export class WebRtcViewer extends WebRtcPeer {
  private constructor(
    peer: PeerParts,
    readonly consumers: ms.Consumer[],
  ) {
    super(peer);
  }

  /** `router` must number the planned codecs with the viewer's payload types; `tracks` are its producers. */
  static async create(
    id: string,
    router: ms.Router,
    slot: WorkerSlot,
    offer: ParsedOffer,
    plan: ViewerPlan,
    tracks: readonly TrackSource[],
    options: ViewerOptions,
    timeouts: PeerTimeouts,
    logger: Logger,
  ): Promise<{ viewer: WebRtcViewer; answer: string }> {
    const transport = await createPeerTransport(router, slot, offer, {
      ...(options.initialAvailableOutgoingBitrate ? { initialAvailableOutgoingBitrate: options.initialAvailableOutgoingBitrate } : {}),
    });
    const sections: AnswerSection[] = offer.media.map(() => undefined);
    let consumers: ms.Consumer[];
    try {
      // All consumers requested at once: the worker's channel answers them in one round trip instead of one each.
      consumers = await Promise.all(
        plan.matches.map(async ({ trackIndex, match }) => {
          const track = tracks[trackIndex];
          if (!track) throw new Error(`router has no track ${trackIndex}`);
          const consumer = await transport.consume({
            producerId: track.producerId,
            // The viewer routes packets by the mid extension: it must carry the mid of the offer's section.
            mid: match.media.mid,
            rtpCapabilities: match.capabilities,
            // Unpinned, a simulcast viewer starts on the lowest layer (the smallest key frame, so the first picture
            // comes sooner) and is raised once that flows (see raiseCeilings).
            ...(track.kind === 'video' ? { preferredLayers: options.preferredLayers ?? { spatialLayer: 0 } } : {}),
          });
          const streamId = options.lipSync === false && track.kind === 'audio' ? `${options.streamId}-audio` : options.streamId;
          sections[match.media.index] = { direction: 'sendonly', rtpParameters: consumer.rtpParameters, streamId, trackId: consumer.id };
          return consumer;
        }),
      );
    } catch (error) {
      transport.close(); // closes the consumers that were created
      throw error;
    }
    const viewer = new WebRtcViewer({ id, transport, slot, offer, timeouts, logger }, consumers);
    if (options.preferredLayers) viewer.pin = options.preferredLayers;
    else viewer.raiseCeilings();
    return { viewer, answer: writeAnswer(offer, viewer.localIce(), sections) };
  }

  /** A pin (?spatialLayer or POST …/layer) is the viewer's own ceiling: the server no longer raises it. */
  private pin: Layers | undefined;
  /** The layer sent in place of the pinned one while no layer up to the pin has media (see followLiveLayers). */
  private standIn: number | undefined;

  /**
   * Once a layered consumer sends its first (lowest) layer, lifts its ceiling: to the top layer when the viewer
   * negotiated bandwidth estimation, so that mediasoup's estimate picks the layer that fits; otherwise to
   * LAYER_WITHOUT_ESTIMATE, since nothing would ever move such a viewer down from the top.
   */
  private raiseCeilings(): void {
    for (const consumer of this.consumers) {
      if (consumer.type !== 'simulcast' && consumer.type !== 'svc') continue;
      const top = spatialLayersOf(consumer) - 1;
      const ceiling = hasBandwidthEstimation(consumer) ? top : Math.min(top, LAYER_WITHOUT_ESTIMATE);
      if (ceiling <= 0) continue;
      const raise = (layers: ms.ConsumerLayers | undefined): void => {
        if (!layers) return;
        consumer.off('layerschange', raise);
        if (this.pin || consumer.closed) return;
        consumer.setPreferredLayers({ spatialLayer: ceiling }).catch((error: unknown) => this.logger.debug({ error: String(error) }, 'raising the layer ceiling failed'));
      };
      consumer.on('layerschange', raise);
    }
  }

  /**
   * mediasoup's estimate of the bitrate this viewer's link carries, in bps, from the viewer's transport-cc feedback;
   * undefined when the viewer negotiated no bandwidth estimation.
   */
  async availableBitrate(): Promise<number | undefined> {
    const [stats] = await this.transport.getStats();
    return stats?.availableOutgoingBitrate;
  }

  /** The simulcast (or SVC) layers its video is sent at now; null for a single-layer stream. */
  currentLayers(): { spatialLayer: number; temporalLayer: number } | null {
    const layers = this.consumers.find((c) => c.type === 'simulcast' || c.type === 'svc')?.currentLayers;
    return layers ? { spatialLayer: layers.spatialLayer, temporalLayer: layers.temporalLayer ?? 0 } : null;
  }

  /**
   * The least its bandwidth estimate may fall to (bps): set from the stream's lowest simulcast layer. Under that
   * layer's bitrate mediasoup sends no video at all, and an estimate with nothing to measure recovers over many
   * seconds (8–9 s without a picture after a cap's onset, measured on the WebRTC ladder); at the floor the viewer
   * keeps the lowest layer.
   */
  setBitrateFloor(bps: number): void {
    if (!this.consumers.some((c) => (c.type === 'simulcast' || c.type === 'svc') && hasBandwidthEstimation(c))) return;
    this.transport.setMinOutgoingBitrate(bps).catch((error: unknown) => this.logger.debug({ error: String(error) }, 'setting the bitrate floor failed'));
  }

  /** Pins the simulcast layer this viewer receives: a ceiling, below which the bandwidth estimate still decides. */
  async setPreferredLayers(layers: Layers): Promise<void> {
    this.pin = layers;
    this.standIn = undefined;
    await this.applyLayers(layers);
  }

  /**
   * Which simulcast layers have media now (by mediasoup's score of each, lowest first). mediasoup never sends a
   * pinned viewer a layer above its pin, so when every layer up to the pin is dead (a ladder's renditions while
   * their FFmpeg restarts) the viewer gets the lowest live one above it until one up to the pin is back.
   */
  followLiveLayers(live: readonly boolean[]): void {
    const pin = this.pin;
    if (!pin || !this.consumers.some((c) => c.type === 'simulcast')) return;
    const above = live.findIndex((isLive, layer) => isLive && layer > pin.spatialLayer);
    const standIn = live.slice(0, pin.spatialLayer + 1).some(Boolean) || above < 0 ? undefined : above;
    if (standIn === this.standIn) return;
    this.standIn = standIn;
    this.logger.info({ pinned: pin.spatialLayer, sent: standIn ?? pin.spatialLayer }, standIn === undefined ? 'pinned layer back' : 'no layer up to the pinned one has media: sending a higher one meanwhile');
    this.applyLayers(standIn === undefined ? pin : { spatialLayer: standIn }).catch((error: unknown) => this.logger.debug({ error: String(error) }, 'changing the layers failed'));
  }

  private async applyLayers(layers: Layers): Promise<void> {
    for (const consumer of this.consumers) {
      if ((consumer.type === 'simulcast' || consumer.type === 'svc') && !consumer.closed) await consumer.setPreferredLayers(layers);
    }
  }
}

/** The layer a simulcast viewer without bandwidth estimation is capped at: the middle one of the usual three. */
const LAYER_WITHOUT_ESTIMATE = 1;

const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

/** mediasoup estimates a link from transport-cc feedback, or from REMB with abs-send-time. */
function hasBandwidthEstimation(consumer: ms.Consumer): boolean {
  const uris = new Set(consumer.rtpParameters.headerExtensions?.map((e) => e.uri));
  const feedback = consumer.rtpParameters.codecs[0]?.rtcpFeedback ?? [];
  return (uris.has(TRANSPORT_CC_URI) && feedback.some((f) => f.type === 'transport-cc')) || (uris.has(ABS_SEND_TIME_URI) && feedback.some((f) => f.type === 'goog-remb'));
}

/** A layered consumer's spatial layers, from the scalability mode mediasoup gives it (L<spatial>T<temporal>). */
function spatialLayersOf(consumer: ms.Consumer): number {
  const mode = consumer.rtpParameters.encodings?.[0]?.scalabilityMode ?? '';
  return Number(/^[LS](\d+)/.exec(mode)?.[1] ?? 1);
}
