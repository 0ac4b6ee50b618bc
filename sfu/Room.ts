// The media of one live stream. The publisher's producers live on an origin Router, placed on the least-loaded
// worker and numbered with the publisher's own payload types. Viewers are served from "delivery" routers, one per
// (worker, payload-type numbering): mediasoup consumers send with their router's payload types, while a WHEP viewer
// must receive the ones of its own offer. A viewer numbering codecs like the publisher, on the origin's worker, is
// served by the origin itself; others get a delivery router fed through a pipe. The same mechanism spreads a popular
// stream over every core: once a worker carries its budget, new viewers go to a delivery router on another worker.
// With a reconnect grace, viewers are not served the publisher's producers but stable ones fed by it (StableTracks):
// when the publisher leaves, the room waits that long for another, and one that comes in time feeds the same viewers.
// Closing the room (the publisher left, the grace ran out) closes every router, and with them every transport,
// consumer and pipe.
import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { streamRouterCodecs } from './codecs.js';
import { SourceConflictError, StreamOfflineError } from './errors.js';
import type { Logger } from './logger.js';
import { parseOffer } from './sdp/offer.js';
import { producerParametersFromOffer } from './sdp/rtpParameters.js';
import type { PeerTimeouts } from './WebRtcPeer.js';
import { PlainPublisher, type PlainTrackSpec } from './PlainPublisher.js';
import { PlainSubscriber, type PlainReceiver } from './PlainSubscriber.js';
import { StableTracks } from './StableTracks.js';
import { StreamSources, type FailoverPolicy, type SourceChange, type SourcePublisher, type SourceRole, type SourceState } from './StreamSources.js';
import { mediaStats, type RoomStats } from './stats.js';
import { mediaCodec, trackOf, type TrackInfo, type TrackKind } from './tracks.js';
import { WebRtcPublisher } from './WebRtcPublisher.js';
import { planViewer, WebRtcViewer, type TrackSource, type ViewerOptions, type ViewerPlan } from './WebRtcViewer.js';
import type { WorkerPool, WorkerSlot } from './WorkerPool.js';

export interface RoomOptions {
  timeouts: PeerTimeouts;
  /** Transports one worker carries before a stream's new viewers go to a router on another worker. */
  viewersPerWorker: number;
  initialAvailableOutgoingBitrate: number;
  /** When a stream's backup publisher takes over, and when the primary takes back. */
  failover: FailoverPolicy;
}

interface RoomRouter {
  router: ms.Router;
  slot: WorkerSlot;
  /** The stream's tracks on this router, in the origin's order (undefined where this router does not carry one). */
  tracks: (TrackSource | undefined)[];
}

export interface ViewerLink {
  /** The viewer's session id. */
  id: string;
  /** mediasoup's estimate of the viewer's link from its transport-cc feedback; null without one. */
  availableBitrateBps: number | null;
  /** The simulcast layers being sent to it; null for a single-layer stream. */
  layers: { spatialLayer: number; temporalLayer: number } | null;
}

/**
 * 'waiting': the last publisher left and the room waits for another (its grace); 'resumed': one came; 'source': the
 * publisher viewers get changed; 'close': the stream ended.
 */
export type RoomEvents = { close: []; waiting: []; resumed: []; source: [SourceChange]; viewer: [WebRtcViewer] };

type PublisherCodecs = { kind: TrackKind; codec: ms.RtpCodecParameters }[];
type CreatePublisher<T> = (router: ms.Router, slot: WorkerSlot) => Promise<{ publisher: SourcePublisher; result: T }>;

/** How often the viewers' bitrate floor follows the lowest simulcast layer's bitrate. */
const FLOOR_INTERVAL_MS = 1000;
/** The floor over the lowest layer's bitrate: for its key frames, and for the loss mediasoup discounts an estimate by. */
const FLOOR_MARGIN = 1.5;

export class Room extends EventEmitter<RoomEvents> {
  /** The publishers of a single-layer stream (a primary, a backup), which feed its stable tracks. */
  private sources: StreamSources | undefined;
  /** The publisher of a simulcast stream: its viewers consume its own producers, and it cannot be replaced. */
  private direct: SourcePublisher | undefined;
  /** Set while the room waits for a new publisher: when the grace runs out. */
  private graceDeadline: number | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  /** The simulcast video new viewers get instead of the publisher's single layer (a WebRTC ladder), while it lasts. */
  private ladder: PlainPublisher | undefined;
  /** A room that served a ladder ends with its publisher: the ladder's viewers could not be fed by another. */
  private servedLadder = false;
  /** Raised when the video viewers get changes: routers placed before serve only the viewers they have. */
  private generation = 0;
  private origin: (RoomRouter & { payloadKey: string }) | undefined;
  private readonly routers = new Map<string, RoomRouter>();
  private readonly viewers = new Set<WebRtcViewer>();
  /** Viewers' least bandwidth estimate, bps (0: none yet), and the timer that follows it. */
  private bitrateFloor = 0;
  private floorTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Publishers are adopted one at a time (see adoptPublisher). */
  private adopting: Promise<unknown> = Promise.resolve();
  /** Router placement runs one at a time, so two joins never build the same delivery router twice. */
  private placement: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly pool: WorkerPool,
    private readonly options: RoomOptions,
    private readonly logger: Logger,
    /** How long the room waits for a new publisher once its publisher leaves (0: it closes at once). */
    private readonly graceMs = 0,
  ) {
    super();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The publisher left and the room waits for another; its viewers stay. */
  get isWaiting(): boolean {
    return this.graceDeadline !== undefined && !this.closed;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** The tracks viewers get, in the order of stats().ingress: the publisher's, its video as a WebRTC ladder if it has one. */
  tracks(): TrackInfo[] {
    const ladderVideo = this.ladder?.producers[0];
    return this.delivered.map((p) => trackOf(p.kind === 'video' && ladderVideo ? ladderVideo : p));
  }

  /** The producers viewers and egresses consume: the stable ones when there are, else the publisher's. */
  private get delivered(): readonly ms.Producer[] {
    return this.sources?.stable.producers ?? this.producers;
  }

  /**
   * mediasoup's own producers of the live stream (on the origin router), for benches and tests that read their
   * counters; the server itself goes by tracks() and stats().
   */
  get producers(): readonly ms.Producer[] {
    return (this.sources?.active ?? this.direct)?.producers ?? [];
  }

  /** What the publisher sends in (per track) and what the viewers are sent, from mediasoup's stats. */
  stats(): Promise<RoomStats> {
    return mediaStats(this.producers, [...this.viewers].flatMap((v) => v.consumers));
  }

  /** Each viewer's link as the server sees it: mediasoup's bandwidth estimate and the simulcast layer it is sent. */
  viewerLinks(): Promise<ViewerLink[]> {
    return Promise.all([...this.viewers].map(async (viewer) => ({ id: viewer.id, availableBitrateBps: (await viewer.availableBitrate().catch(() => undefined)) ?? null, layers: viewer.currentLayers() })));
  }

  /** Viewers per worker index, to see how a stream is spread. */
  viewersByWorker(): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const v of this.viewers) counts[v.workerIndex] = (counts[v.workerIndex] ?? 0) + 1;
    return counts;
  }

  /** Takes a WHIP offer as the stream's `role` publisher (see StreamSources). */
  async publishWebRtc(sessionId: string, offerSdp: string, role: SourceRole = 'primary'): Promise<{ publisher: WebRtcPublisher; answer: string }> {
    const offer = parseOffer(offerSdp);
    const accepted = producerParametersFromOffer(offer.media, mediasoup.getSupportedRtpCapabilities());
    const codecs = accepted.map((a) => ({ kind: a.kind, codec: mediaCodec(a.rtpParameters) }));
    const logger = this.logger.child({ session: sessionId, role });
    return this.adoptPublisher(role, codecs, logger, async (router, slot) => {
      const result = await WebRtcPublisher.create(sessionId, router, slot, offer, accepted, this.options.timeouts, logger);
      return { publisher: result.publisher, result };
    });
  }

  /** Takes plain RTP from a local sender (the RTMP bridge's FFmpeg) as the stream's `role` publisher. */
  async publishPlain(sessionId: string, specs: PlainTrackSpec[], role: SourceRole = 'primary'): Promise<PlainPublisher> {
    const logger = this.logger.child({ session: sessionId, role });
    return this.adoptPublisher(role, specs, logger, async (router, slot) => {
      const publisher = await PlainPublisher.create(sessionId, router, slot, specs, logger);
      return { publisher, result: publisher };
    });
  }

  /**
   * A new publisher: the first one creates the origin router for its codecs (numbered as it numbers them) and the
   * stable tracks; a later one (a backup, or one coming back within the grace) joins them on the same router.
   */
  private adoptPublisher<T>(role: SourceRole, codecs: PublisherCodecs, logger: Logger, create: CreatePublisher<T>): Promise<T> {
    // One at a time: a primary and a backup arriving together must not both create the origin router.
    const adopted = this.adopting.then(() => this.adoptInTurn(role, codecs, logger, create));
    this.adopting = adopted.catch(() => undefined);
    return adopted;
  }

  private async adoptInTurn<T>(role: SourceRole, codecs: PublisherCodecs, logger: Logger, create: CreatePublisher<T>): Promise<T> {
    if (this.closed) throw new StreamOfflineError(`stream ${this.id} has ended`);
    if (this.direct || this.sources?.has(role)) throw new SourceConflictError(`stream ${this.id} already has a ${role} publisher`);
    if (this.origin) {
      const joined = await this.adoptAnother(role, codecs, logger, create);
      if (joined) return joined;
    }
    const slot = this.pool.leastLoaded();
    if (!slot) throw new Error('no mediasoup worker available');
    const router = await slot.worker.createRouter({ mediaCodecs: streamRouterCodecs(codecs.map((c) => ({ ...c, payloadType: c.codec.payloadType }))), appData: { room: this.id } });
    router.on('workerclose', () => this.close());
    let created: Awaited<ReturnType<typeof create>> | undefined;
    let stable: StableTracks | undefined;
    try {
      created = await create(router, slot);
      // A simulcast publisher's layers go to viewers as they are (no stable tracks): it cannot be replaced.
      if (created.publisher.producers.every((p) => p.type === 'simple')) stable = await StableTracks.create(router, created.publisher.producers, logger);
    } catch (error) {
      created?.publisher.close('cannot relay its tracks');
      router.close();
      throw error;
    }
    const { publisher } = created;
    if (this.closed) {
      publisher.close('stream ended');
      router.close();
      throw new StreamOfflineError(`stream ${this.id} ended while its publisher was being created`);
    }
    const tracks = (stable?.producers ?? publisher.producers).map((p) => ({ producerId: p.id, kind: p.kind, codec: mediaCodec(p.rtpParameters) }));
    this.origin = { router, slot, tracks, payloadKey: tracks.map((t) => t.codec.payloadType).join(',') };
    this.routers.set(this.routerKey(slot, this.origin.payloadKey), this.origin);
    if (stable) {
      const sources = new StreamSources(stable, this.options.failover, this.logger);
      sources.on('change', (change) => this.emit('source', change));
      this.sources = sources;
      await this.addSource(role, publisher);
    } else {
      this.direct = publisher;
      publisher.once('close', () => this.close());
      const simulcast = publisher.producers.find((p) => p.kind === 'video' && p.type === 'simulcast');
      if (simulcast) this.followLayers(simulcast);
    }
    logger.info({ worker: slot.index, tracks: tracks.map((t) => `${t.kind}:${t.codec.mimeType}/${t.codec.payloadType}`), replaceable: stable !== undefined }, 'publisher created');
    return created.result;
  }

  private async addSource(role: SourceRole, publisher: SourcePublisher): Promise<void> {
    const sources = this.sources;
    if (!sources) return;
    publisher.once('close', () => this.sourceLeft(publisher));
    await sources.add(role, publisher);
    if (this.graceDeadline !== undefined) {
      this.graceDeadline = undefined;
      clearTimeout(this.graceTimer);
      this.emit('resumed');
    }
  }

  /**
   * A publisher joining a stream that has its viewers: a backup next to the primary, or one coming back within the
   * grace. It is received on the origin router and feeds the stable tracks when it is active. Undefined when its
   * codecs cannot feed them: a waiting stream's viewers' sessions are then ended, and the caller starts the room
   * afresh (a stream with a live publisher refuses it).
   */
  private async adoptAnother<T>(role: SourceRole, codecs: PublisherCodecs, logger: Logger, create: CreatePublisher<T>): Promise<T | undefined> {
    const { origin, sources } = this;
    if (!origin || !sources) throw new SourceConflictError(`stream ${this.id} sends simulcast: its publisher cannot have a backup`);
    const offered = codecs.map((c) => ({ kind: c.kind, mimeType: c.codec.mimeType }));
    const named = offered.map((c) => `${c.kind} ${c.mimeType}`).join(', ');
    const misfit = (reason: string): undefined => {
      if (!this.isWaiting) throw new SourceConflictError(`stream ${this.id}: ${reason}`);
      this.endWaitingViewers(reason);
      return undefined;
    };
    if (!sources.stable.fits(offered)) return misfit(`the new publisher's codecs (${named}) differ from the ones the viewers are sent`);
    // While the publisher is created the grace does not run out: it has come. If it fails, the viewers wait on.
    clearTimeout(this.graceTimer);
    let created: Awaited<ReturnType<typeof create>>;
    try {
      created = await create(origin.router, origin.slot);
    } catch (error) {
      this.armGrace();
      throw error;
    }
    if (this.closed) {
      created.publisher.close('stream ended');
      throw new StreamOfflineError(`stream ${this.id} ended while its publisher was being created`);
    }
    if (created.publisher.producers.some((p) => p.type !== 'simple')) {
      created.publisher.close('simulcast cannot feed the stream');
      this.armGrace();
      return misfit('the new publisher sends simulcast, which the viewers cannot be switched to');
    }
    try {
      await this.addSource(role, created.publisher);
    } catch (error) {
      created.publisher.close('cannot feed the stream');
      throw error;
    }
    logger.info({ tracks: named, active: sources.activeSource }, 'publisher joined the stream');
    return created.result;
  }

  /** A publisher left: the other takes over, or the room waits for a new one for its grace (viewers frozen meanwhile), or closes. */
  private sourceLeft(publisher: SourcePublisher): void {
    const sources = this.sources;
    if (this.closed || !sources) return;
    sources.remove(publisher);
    if (sources.size > 0) return;
    if (this.graceMs <= 0 || this.servedLadder) {
      this.close();
      return;
    }
    this.graceDeadline = Date.now() + this.graceMs;
    this.armGrace();
    this.logger.info({ graceSeconds: this.graceMs / 1000, viewers: this.viewers.size }, 'publisher left: the stream waits for a new one');
    this.emit('waiting');
  }

  private armGrace(): void {
    clearTimeout(this.graceTimer);
    if (this.graceDeadline === undefined) return;
    this.graceTimer = setTimeout(() => {
      this.logger.info('no publisher came back within the grace');
      this.close();
    }, Math.max(0, this.graceDeadline - Date.now()));
  }

  /** A new publisher that cannot feed the waiting viewers: their sessions end, and the room starts afresh. */
  private endWaitingViewers(reason: string): void {
    this.logger.warn({ reason, viewers: this.viewers.size }, "the waiting viewers' sessions end");
    for (const viewer of this.viewers) viewer.close(reason);
    this.sources?.close();
    this.sources?.stable.close();
    this.sources = undefined;
    for (const { router } of this.routers.values()) router.close();
    this.routers.clear();
    this.origin = undefined;
    this.graceDeadline = undefined;
    clearTimeout(this.graceTimer);
  }

  /** The publishers of a stream that has stable tracks, and which is active; empty for a simulcast stream. */
  sourceStates(): SourceState[] {
    return this.sources?.states() ?? [];
  }

  get activeSource(): SourceRole | undefined {
    return this.sources?.activeSource ?? (this.direct ? 'primary' : undefined);
  }

  /** Whether the stream's publisher in `role` has sent media lately (a dead one's connection may not have timed out yet). */
  isDelivering(role: SourceRole): Promise<boolean> {
    // A simulcast stream's publisher cannot be replaced by another: it counts as delivering while it is there.
    return this.sources ? this.sources.delivering(role) : Promise.resolve(this.direct !== undefined && role === 'primary');
  }

  /** Makes this publisher the active one (the control API); false if the stream has none in that role. */
  selectSource(role: SourceRole): Promise<boolean> {
    return this.sources?.select(role) ?? Promise.resolve(false);
  }

  /**
   * Serves new viewers this simulcast video in place of the publisher's single-layer one: a WebRTC ladder, the
   * publisher's own video as its top layer and renditions of it below, sent as plain RTP from a local process. Viewers
   * already there keep what they get. When it closes, new viewers get the publisher's video again; it closes with
   * the room.
   */
  async serveVideoLadder(sessionId: string, spec: PlainTrackSpec): Promise<PlainPublisher> {
    const origin = this.origin;
    if (this.closed || !origin) throw new StreamOfflineError(`stream ${this.id} is not live`);
    const index = origin.tracks.findIndex((t) => t?.kind === 'video');
    if (spec.kind !== 'video' || index < 0 || this.ladder) throw new Error(`room ${this.id} cannot take a video ladder`);
    const publisher = await PlainPublisher.create(sessionId, origin.router, origin.slot, [spec], this.logger.child({ session: sessionId, role: 'ladder' }));
    const [producer] = publisher.producers;
    if (this.closed || !producer) {
      publisher.close('stream ended');
      throw new StreamOfflineError(`stream ${this.id} ended while its ladder started`);
    }
    const direct = origin.tracks[index];
    this.ladder = publisher;
    this.servedLadder = true;
    this.serve(index, { producerId: producer.id, kind: 'video', codec: mediaCodec(producer.rtpParameters) });
    publisher.once('close', () => {
      this.ladder = undefined;
      if (!this.closed && direct) this.serve(index, direct);
    });
    this.followLayers(producer);
    return publisher;
  }

  /** New viewers get `track` as the stream's track `index`: on the origin router, and on delivery routers made from now on. */
  private serve(index: number, track: TrackSource): void {
    const origin = this.origin;
    if (!origin) return;
    origin.tracks[index] = track;
    this.generation++;
    this.routers.set(this.routerKey(origin.slot, origin.payloadKey), origin);
  }

  private routerKey(slot: WorkerSlot, payloadKey: string): string {
    return `${this.generation}/${slot.index}/${payloadKey}`;
  }

  /** Viewers of a simulcast video follow its layers: their bitrate floor its lowest, pinned ones the layers that have media. */
  private followLayers(video: ms.Producer): void {
    video.on('score', (scores) => {
      const live = (video.rtpParameters.encodings ?? []).map((e) => scores.some((s) => (s.ssrc === e.ssrc || (e.rid !== undefined && s.rid === e.rid)) && s.score > 0));
      for (const viewer of this.viewers) viewer.followLiveLayers(live);
    });
    if (this.floorTimer) return;
    this.floorTimer = setInterval(() => void this.followLowestLayer(), FLOOR_INTERVAL_MS);
    this.floorTimer.unref();
  }

  /** Takes a WHEP offer; the viewer is placed on a worker with room in its budget. */
  async addViewer(sessionId: string, offerSdp: string, options: ViewerOptions): Promise<{ viewer: WebRtcViewer; answer: string }> {
    const offer = parseOffer(offerSdp);
    const origin = this.origin;
    if (this.closed || !origin) throw new StreamOfflineError(`stream ${this.id} is not live`);
    const plan = planViewer(offer, origin.tracks.filter((t): t is TrackSource => t !== undefined));
    const placed = this.placement.then(() => this.routerFor(plan));
    this.placement = placed.catch(() => undefined);
    const { router, slot, tracks } = await placed;
    const logger = this.logger.child({ session: sessionId, role: 'viewer' });
    const result = await WebRtcViewer.create(sessionId, router, slot, offer, plan, tracks.map((t) => t as TrackSource), {
      initialAvailableOutgoingBitrate: this.options.initialAvailableOutgoingBitrate,
      ...options,
    }, this.options.timeouts, logger);
    if (this.closed) {
      result.viewer.close('stream ended');
      throw new StreamOfflineError(`stream ${this.id} ended while the viewer joined`);
    }
    this.viewers.add(result.viewer);
    result.viewer.once('close', () => this.viewers.delete(result.viewer));
    if (this.bitrateFloor > 0) result.viewer.setBitrateFloor(this.bitrateFloor);
    logger.info({ worker: slot.index, consumers: result.viewer.consumers.map((c) => `${c.kind}:${c.type}/${c.rtpParameters.codecs[0]?.payloadType}`) }, 'viewer created');
    this.emit('viewer', result.viewer);
    return result;
  }

  /** Sends the stream as plain RTP to a local receiver (the standard-latency egress); it closes with the room. */
  async subscribePlain(sessionId: string, receivers: PlainReceiver[]): Promise<PlainSubscriber> {
    const origin = this.origin;
    if (this.closed || !origin) throw new StreamOfflineError(`stream ${this.id} is not live`);
    const subscriber = await PlainSubscriber.create(sessionId, origin.router, origin.slot, this.delivered, receivers, this.logger.child({ session: sessionId, role: 'egress' }));
    if (this.closed) {
      subscriber.close('stream ended');
      throw new StreamOfflineError(`stream ${this.id} ended while its egress started`);
    }
    return subscriber;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.floorTimer);
    clearTimeout(this.graceTimer);
    this.ladder?.close('stream ended');
    const publishers = [this.direct, this.sources?.publisherOf('primary'), this.sources?.publisherOf('backup')];
    this.sources?.close();
    for (const publisher of publishers) publisher?.close('stream ended');
    for (const viewer of this.viewers) viewer.close('stream ended');
    for (const { router } of this.routers.values()) router.close();
    this.routers.clear();
    this.logger.info('room closed');
    this.emit('close');
  }

  /** Keeps every viewer's bandwidth estimate above the stream's lowest simulcast layer (see WebRtcViewer.setBitrateFloor). */
  private async followLowestLayer(): Promise<void> {
    const video = [...(this.ladder?.producers ?? []), ...this.producers].find((p) => p.kind === 'video' && p.type === 'simulcast');
    if (!video || video.closed) return;
    const stats = await video.getStats().catch(() => []);
    const rates = stats.filter((s) => s.score > 0 && s.bitrate > 0).map((s) => s.bitrate);
    if (rates.length === 0 || this.closed) return;
    const floor = Math.round(Math.min(...rates) * FLOOR_MARGIN);
    if (Math.abs(floor - this.bitrateFloor) <= this.bitrateFloor * 0.1) return;
    this.bitrateFloor = floor;
    for (const viewer of this.viewers) viewer.setBitrateFloor(floor);
  }

  /** The router that serves a viewer with this plan: the origin when it fits, else a delivery router. */
  private async routerFor(plan: ViewerPlan): Promise<RoomRouter> {
    const origin = this.origin;
    if (this.closed || !origin) throw new StreamOfflineError(`stream ${this.id} ended while the viewer joined`);
    const budget = this.options.viewersPerWorker;
    const workers = [...this.pool.all()].sort((a, b) => (a === origin.slot ? -1 : b === origin.slot ? 1 : a.load - b.load));
    const slot = workers.find((w) => w.load < budget) ?? [...workers].sort((a, b) => a.load - b.load)[0] ?? origin.slot;
    const key = this.routerKey(slot, plan.payloadKey);
    const existing = this.routers.get(key);
    if (existing) return existing;

    // A delivery router carrying the tracks this viewer takes, numbered with its payload types.
    const wanted = plan.matches.map(({ trackIndex, match }) => ({ source: origin.tracks[trackIndex] as TrackSource, trackIndex, payloadType: match.payloadType }));
    const router = await slot.worker.createRouter({
      mediaCodecs: streamRouterCodecs(wanted.map((w) => ({ kind: w.source.kind, codec: w.source.codec, payloadType: w.payloadType }))),
      appData: { room: this.id },
    });
    try {
      const piped = await pipe({ router: origin.router, slot: origin.slot }, { router, slot }, wanted.map((w) => w.source.producerId));
      const tracks: RoomRouter['tracks'] = origin.tracks.map(() => undefined);
      wanted.forEach((w, i) => (tracks[w.trackIndex] = { ...w.source, producerId: piped[i] as string }));
      if (this.closed) throw new StreamOfflineError(`stream ${this.id} ended while the viewer joined`);
      const added = { router, slot, tracks };
      this.routers.set(key, added);
      this.logger.info({ worker: slot.index, payloadTypes: plan.payloadKey }, 'delivery router added');
      return added;
    } catch (error) {
      router.close();
      throw error;
    }
  }
}

/**
 * Feeds producers of one router into another through a pair of PipeTransports on loopback (what mediasoup's
 * pipeToRouter does, but with new producer ids, so that it also works between two routers of the same worker).
 * Returns the new producers' ids; the pipe closes with either router. Each end counts in its worker's load.
 */
async function pipe(from: Pick<RoomRouter, 'router' | 'slot'>, to: Pick<RoomRouter, 'router' | 'slot'>, producerIds: string[]): Promise<string[]> {
  const out = await from.router.createPipeTransport({ listenIp: '127.0.0.1' });
  from.slot.carry(out);
  const into = await to.router.createPipeTransport({ listenIp: '127.0.0.1' });
  to.slot.carry(into);
  to.router.observer.once('close', () => out.close());
  await out.connect({ ip: into.tuple.localIp, port: into.tuple.localPort });
  await into.connect({ ip: out.tuple.localIp, port: out.tuple.localPort });
  const ids: string[] = [];
  for (const producerId of producerIds) {
    const consumer = await out.consume({ producerId });
    const producer = await into.produce({ kind: consumer.kind, rtpParameters: consumer.rtpParameters, paused: consumer.producerPaused });
    consumer.observer.once('close', () => producer.close());
    ids.push(producer.id);
  }
  return ids;
}
