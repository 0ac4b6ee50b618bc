// The live streams and the rules of going live and of watching: one publisher per name within its ingest domain
// (409, or takeover if configured), admission through the authorizer and the admission hook, limits that hold under
// concurrent requests, a Room per live stream, offline when the room closes. It is the protocol servers'
// StreamGate, and tells the rest of the server when streams go live and offline.
//
// Continuity: a stream may have two publishers, a primary and a backup (`?backup=1`), and outlives them for its
// grace: it is live from its first publisher until its room closes. Its room decides which publisher viewers get
// (sfu/StreamSources); the stream's feed follows the same one (SwitchingFeed), so the standard-latency side (HLS,
// FLV, relays, recording) keeps going across a switch, and across a gap with no publisher. The stream's publisher
// fields (session, address, protocol) are the active publisher's.
//
// Limits hold exactly because a place (a publisher's name, a viewer's seat) is taken synchronously, before any
// await, and given back when the request fails or the session ends.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Room, Sfu, SourceChange } from '../../sfu/index.js';
import {
  Refusal,
  streamKey,
  streamPath,
  type IngestProtocol,
  type LatencyMode,
  type MediaRequest,
  type PlayAdmission,
  type PublishAdmission,
  type PublisherRole,
  type StreamGate,
} from '../core/index.js';
import type { FlvSource } from '../media/flv/FlvFeed.js';
import { SwitchingFeed } from '../media/flv/SwitchingFeed.js';

/** What the server transcodes for WebRTC viewers (RTMP ingest only; WHIP media is forwarded as is). */
export type TranscodePath = 'none' | 'audio' | 'video' | 'video+audio';

/** How a stream came in: over an ingest protocol, or made by the server from another stream (a transcoded rendition). */
export type StreamOrigin = IngestProtocol | 'rendition';

/** What a rendition is made from: its source stream and the transcoding template. */
export interface RenditionOf {
  source: LiveStream;
  templateId: string;
}

export interface PublishDetails {
  protocol: StreamOrigin;
  transcode: TranscodePath;
  /** The ingest URL's query (e.g. auth_key, record_config), for the features that read it. */
  query: Record<string, string>;
  /** The stream as FLV tags, when the ingest has them (RTMP); WebRTC streams get one from the SFU egress. */
  feed?: FlvSource;
  /** Set for a rendition (not counted as a publisher). */
  rendition?: RenditionOf;
}

/** An admission whose commit also says how the stream came in, and gives the stream that is live now. */
export interface RegistryAdmission extends PublishAdmission<Room> {
  commit(publisher: { readonly id: string; close(reason: string): void }, details?: PublishDetails): LiveStream;
}

/** The name of a stream that is not live, in its ingest domain. */
export interface StreamAddress {
  ingestDomain: string | undefined;
  app: string;
  stream: string;
}

/** A change of a stream's active publisher, as the registry tells it ('source'). */
export interface StreamSourceChange extends SourceChange {
  stream: LiveStream;
}

export interface LiveStream extends Omit<PublishDetails, 'feed'> {
  /** The registry key: ingest domain (when configured) and app/stream. */
  key: string;
  app: string;
  stream: string;
  /** The ingest domain the stream belongs to (undefined: the default domain). */
  ingestDomain: string | undefined;
  /** The ingest request's host. */
  host: string;
  /** The publisher's address and session id (WHIP session / RTMP publish). */
  ip: string;
  sessionId: string;
  /** The ingest domain's latency mode: half-second streams are not recorded (see Domains.ingestOf). */
  latencyMode: LatencyMode;
  room: Room;
  /** The stream as FLV tags for the standard-latency side (HLS, HTTP-FLV, relays, recording). */
  feed: FlvSource;
  startedAt: Date;
  /** Close the publisher (the room follows). */
  kick(reason: string): void;
}

/** Who may publish and play (access/ implements it: lists, signed URLs, tokens); throws a Refusal to refuse. */
export interface StreamAuthorizer {
  authorize(action: 'publish' | 'play', request: MediaRequest): void;
}

/** Publisher, viewer and session-rate limits (access/Limits implements it); each check throws a Refusal. */
export interface StreamLimits {
  takeSession(ip: string): void;
  checkPublisher(publishers: number): void;
  checkViewer(name: string, streamViewers: number, totalViewers: number): void;
}

/** How requests map to domains (Domains implements it). */
export interface StreamDomains {
  ingestOf(host: string): { ingestDomain: string | undefined; latencyMode: LatencyMode };
  playOf(host: string): { ingestDomain: string | undefined; latencyMode: LatencyMode };
}

export interface RegistryOptions {
  conflict: 'reject' | 'takeover';
  domains: StreamDomains;
  /** A stream's reconnect grace, seconds (0 or left out: its room ends with its publisher). */
  graceSeconds?: (address: { ingestDomain: string | undefined; app: string }) => number;
  /** The FLV feed of a stream whose ingest has none (WebRTC): the SFU egress. */
  egressFeed: (name: string, room: Room) => FlvSource;
  /** The admission hook, asked after the authorizer; rejects with a Refusal to refuse. */
  admission?: (action: 'publish' | 'play', request: MediaRequest) => Promise<void>;
  /** Publisher, viewer and session-rate limits (503/429). */
  limits?: StreamLimits;
  /** Told of every access refusal (401/403) of a publish or play, for the metrics. */
  denials?: { recordError(error: unknown): void };
  /**
   * Asked when a play names a stream that is not live: starts it if it is one the server makes on request (a
   * rendition of a live stream) and resolves once it is live; resolves at once for any other name; rejects with a
   * Refusal to refuse the play (limits, a template that does not fit the source).
   */
  startOnDemand?: (name: StreamAddress) => Promise<void>;
}

/** A name an operator forbade: its publishes are refused until then. */
export interface ForbiddenStream {
  app: string;
  stream: string;
  until: Date;
}

/** A publisher of a stream, and what its feed is (its RTMP tags, or the SFU egress). */
interface StreamPublisher {
  publisher: { readonly id: string; close(reason: string): void };
  request: GoLiveRequest;
  details: PublishDetails | undefined;
  feed: FlvSource;
}

/** A live stream and its publishers by role (a publisher that left stays until another takes its role). */
interface StreamEntry {
  stream: LiveStream;
  feed: SwitchingFeed;
  publishers: Map<PublisherRole, StreamPublisher>;
  /** The room's SFU egress, made once for its WebRTC publishers' feed. */
  egress: FlvSource | undefined;
}

/** A publish between admission and its publisher's creation; a forbid cancels it. */
interface PendingPublish {
  app: string;
  stream: string;
  room: Room | undefined;
  forbidden: boolean;
  /** A rendition's publish (not counted as a publisher). */
  rendition: boolean;
}

export class StreamRegistry extends EventEmitter<{ live: [LiveStream]; offline: [LiveStream]; source: [StreamSourceChange] }> implements StreamGate<Room> {
  private readonly live = new Map<string, LiveStream>();
  private readonly entries = new Map<string, StreamEntry>();
  /** By stream key and role. */
  private readonly pending = new Map<string, PendingPublish>();
  /** Forbidden names (app/stream, in every domain) and until when. */
  private readonly forbids = new Map<string, ForbiddenStream>();
  /** WebRTC viewer seats per stream key: admitted (and joining) plus connected. */
  private readonly seats = new Map<string, number>();
  private seatsTotal = 0;

  constructor(
    private readonly sfu: Sfu,
    private readonly authorizer: StreamAuthorizer,
    private readonly options: RegistryOptions,
    private readonly logger: Logger,
  ) {
    super();
  }

  admitPublish(request: MediaRequest): Promise<RegistryAdmission> {
    return this.counted(this.admitPublishing(request));
  }

  admitPlay(request: MediaRequest): Promise<PlayAdmission<Room>> {
    return this.counted(this.admitPlaying(request));
  }

  /**
   * A live stream an HLS/HTTP-FLV player may watch: same authorization as WHEP; half-second streaming domains
   * refuse. `segment`: an HLS segment, whose playlist was admitted: no admission hook, and no on-demand start.
   */
  admitStandardPlay(request: MediaRequest, options: { segment?: boolean } = {}): Promise<LiveStream> {
    return this.counted(this.admitStandardPlaying(request, options));
  }

  private async counted<T>(admission: Promise<T>): Promise<T> {
    try {
      return await admission;
    } catch (error) {
      this.options.denials?.recordError(error);
      throw error;
    }
  }

  private async admitPublishing(request: MediaRequest): Promise<RegistryAdmission> {
    this.authorizer.authorize('publish', request);
    const { ingestDomain, latencyMode } = this.options.domains.ingestOf(request.host);
    if (request.protocol === 'rtmp' && latencyMode === 'half-second') {
      throw Refusal.denied('domain_type', `RTMP ingest is not available on the half-second domain ${request.host}: publish over WHIP`);
    }
    const key = streamKey(ingestDomain, request);
    const role = roleOf(request.query);
    this.checkPublish(key, role, request);
    this.options.limits?.takeSession(request.ip);
    if (!this.live.has(key)) this.options.limits?.checkPublisher(this.publisherCount());
    const pending: PendingPublish = { app: request.app, stream: request.stream, room: undefined, forbidden: false, rendition: false };
    this.pending.set(pendingKey(key, role), pending);
    let room: Room;
    try {
      // Refused while the role's publisher delivers; one that has stopped (a dead encoder whose connection has not
      // timed out yet) is replaced, so that an encoder reconnecting at once is not refused.
      const held = this.entries.get(key);
      if (held && roleHeld(held, role) && this.options.conflict === 'reject' && (await held.stream.room.isDelivering(role))) throw conflictRefusal(key, role);
      await this.options.admission?.('publish', request);
      // Forbidden while the hook was asked (and not resumed since).
      const forbid = pending.forbidden ? this.forbiddenEntry(streamPath(request)) : undefined;
      if (forbid) throw forbiddenRefusal(request, forbid);
      const entry = this.entries.get(key);
      if (entry && roleHeld(entry, role)) {
        this.logger.info({ stream: key, role }, 'publisher taken over by a new one');
        // The room goes on (with the other publisher, or waiting for its grace), and the new one feeds it; a
        // simulcast stream's viewers cannot be fed by another publisher, so that stream ends.
        if (entry.stream.room.sourceStates().length === 0) entry.stream.kick('taken over by a new publisher');
        else entry.publishers.get(role)?.publisher.close('taken over by a new publisher');
      }
      // The stream's room; or the one a publish of the other role is going live in (a primary and a backup together).
      const other = this.pending.get(pendingKey(key, role === 'primary' ? 'backup' : 'primary'))?.room;
      room = this.entries.get(key)?.stream.room ?? (other && !other.isClosed ? other : undefined) ?? this.sfu.createRoom(key, (this.options.graceSeconds?.({ ingestDomain, app: request.app }) ?? 0) * 1000);
    } catch (error) {
      this.pending.delete(pendingKey(key, role));
      throw error;
    }
    pending.room = room;
    return this.admission(key, role, request, { ingestDomain, latencyMode }, room);
  }

  /**
   * A rendition's publish: the server's own, so no access checks, admission hook or publisher limit (the
   * transcoder has a limit of its own); its name is taken as any publisher's is. It belongs to its source's ingest
   * domain, host and latency mode.
   */
  admitRendition(source: LiveStream, stream: string): RegistryAdmission {
    const name = { app: source.app, stream };
    const key = streamKey(source.ingestDomain, name);
    if (this.pending.has(pendingKey(key, 'primary')) || this.live.has(key)) throw new Refusal('conflict', `stream ${key} is already being published`);
    const room = this.sfu.createRoom(key);
    this.pending.set(pendingKey(key, 'primary'), { ...name, room, forbidden: false, rendition: true });
    return this.admission(key, 'primary', { ...name, host: source.host, ip: source.ip, query: {} }, { ingestDomain: source.ingestDomain, latencyMode: source.latencyMode }, room);
  }

  private admission(key: string, role: PublisherRole, request: GoLiveRequest, domain: { ingestDomain: string | undefined; latencyMode: LatencyMode }, room: Room): RegistryAdmission {
    return {
      room,
      role,
      commit: (publisher, details) => this.goLive(key, role, request, domain, room, publisher, details),
      abort: () => {
        this.pending.delete(pendingKey(key, role));
        // A stream that is live (or waiting) goes on, and so does a room another publish of the name is going live
        // in; only a room made for this publish alone is given back.
        const shared = [...this.pending.entries()].some(([k, p]) => k.startsWith(`${key}#`) && p.room === room);
        if (this.entries.get(key)?.stream.room !== room && !shared) room.close();
      },
    };
  }

  /** Publishers on the server: live streams and publishes being admitted, renditions (made by the server) not counted. */
  private publisherCount(): number {
    let count = 0;
    for (const stream of this.live.values()) if (!stream.rendition) count++;
    for (const pending of this.pending.values()) if (!pending.rendition) count++;
    return count;
  }

  private goLive(
    key: string,
    role: PublisherRole,
    request: GoLiveRequest,
    domain: { ingestDomain: string | undefined; latencyMode: LatencyMode },
    room: Room,
    publisher: { readonly id: string; close(reason: string): void },
    details: PublishDetails | undefined,
  ): LiveStream {
    this.pending.delete(pendingKey(key, role));
    // The room can end (its worker died) between the publisher's creation and this commit; its 'close' has then
    // been heard already, and nothing would ever take the stream offline again.
    if (room.isClosed) throw new Refusal('unavailable', `stream ${key} ended while it went live`);
    const existing = this.entries.get(key);
    const entry = existing?.stream.room === room ? existing : this.openEntry(key, request, domain, room, details);
    const feed = details?.feed ?? (entry.egress ??= this.options.egressFeed(key, room));
    entry.publishers.set(role, { publisher, request, details, feed });
    this.follow(entry);
    if (entry !== existing) {
      this.logger.info({ stream: key, protocol: entry.stream.protocol, transcode: entry.stream.transcode }, 'stream live');
      this.emit('live', entry.stream);
    } else {
      this.logger.info({ stream: key, role, active: room.activeSource }, 'publisher joined the live stream');
    }
    return entry.stream;
  }

  /** A stream going live in `room`: live until the room closes. */
  private openEntry(key: string, request: GoLiveRequest, domain: { ingestDomain: string | undefined; latencyMode: LatencyMode }, room: Room, details: PublishDetails | undefined): StreamEntry {
    const tracks = new Set(room.tracks().map((t) => t.kind));
    const feed = new SwitchingFeed(key, { audio: details?.feed?.tracks.audio ?? tracks.has('audio'), video: details?.feed?.tracks.video ?? tracks.has('video') });
    const stream: LiveStream = {
      key,
      app: request.app,
      stream: request.stream,
      ingestDomain: domain.ingestDomain,
      host: request.host,
      ip: request.ip,
      sessionId: '',
      latencyMode: domain.latencyMode,
      feed,
      protocol: details?.protocol ?? 'whip',
      transcode: details?.transcode ?? 'none',
      query: details?.query ?? request.query,
      ...(details?.rendition ? { rendition: details.rendition } : {}),
      room,
      startedAt: new Date(),
      // Kicked, the stream ends: its publishers are closed and its room does not wait for another.
      kick: (reason) => {
        for (const p of entry.publishers.values()) p.publisher.close(reason);
        room.close();
      },
    };
    const entry: StreamEntry = { stream, feed, publishers: new Map(), egress: undefined };
    this.entries.set(key, entry);
    this.live.set(key, stream);
    const onSource = (change: SourceChange): void => {
      this.follow(entry);
      this.emit('source', { ...change, stream });
    };
    const onWaiting = (): void => {
      feed.follow(undefined);
      this.logger.info({ stream: key }, 'stream waiting for a new publisher');
    };
    room.on('source', onSource);
    room.on('waiting', onWaiting);
    room.once('close', () => {
      room.off('source', onSource);
      room.off('waiting', onWaiting);
      if (this.entries.get(key) === entry) this.entries.delete(key);
      if (this.live.get(key) === stream) this.live.delete(key);
      feed.end();
      this.logger.info({ stream: key }, 'stream offline');
      this.emit('offline', stream);
    });
    return entry;
  }

  /** The stream's publisher fields and feed follow the room's active publisher. */
  private follow(entry: StreamEntry): void {
    const active = entry.stream.room.sourceStates().find((s) => s.active)?.sessionId ?? (entry.stream.room.activeSource ? entry.publishers.get('primary')?.publisher.id : undefined);
    const current = [...entry.publishers.values()].find((p) => p.publisher.id === active);
    if (!current) return;
    const { request, details, publisher } = current;
    Object.assign(entry.stream, {
      host: request.host,
      ip: request.ip,
      sessionId: publisher.id,
      protocol: details?.protocol ?? 'whip',
      transcode: details?.transcode ?? 'none',
      query: details?.query ?? request.query,
    });
    entry.feed.follow(current.feed);
  }

  private async admitPlaying(request: MediaRequest): Promise<PlayAdmission<Room>> {
    this.authorizer.authorize('play', request);
    const { ingestDomain } = this.options.domains.playOf(request.host);
    const key = streamKey(ingestDomain, request);
    await this.playable(key, { ingestDomain, app: request.app, stream: request.stream });
    this.options.limits?.takeSession(request.ip);
    this.options.limits?.checkViewer(streamPath(request), this.seats.get(key) ?? 0, this.seatsTotal);
    const release = this.takeSeat(key);
    try {
      await this.options.admission?.('play', request);
      const { room } = this.liveStream(key);
      return { room, commit: (viewer) => viewer.once('close', release), abort: release };
    } catch (error) {
      release();
      throw error;
    }
  }

  private async admitStandardPlaying(request: MediaRequest, options: { segment?: boolean }): Promise<LiveStream> {
    this.authorizer.authorize('play', request);
    const domain = this.options.domains.playOf(request.host);
    const key = streamKey(domain.ingestDomain, request);
    // Nothing is started for what would be refused anyway (half-second domains) or for a segment.
    if (domain.latencyMode === 'half-second' || options.segment) this.liveStream(key);
    else await this.playable(key, { ingestDomain: domain.ingestDomain, app: request.app, stream: request.stream });
    if (domain.latencyMode === 'half-second') {
      throw Refusal.denied('domain_type', `stream ${streamPath(request)} is on a half-second (WebRTC-only) domain: play it over WHEP, or relay it to a standard domain`);
    }
    if (!options.segment) await this.options.admission?.('play', request);
    return this.liveStream(key);
  }

  /** A live stream: in the registry, its room open, and its feed not ended (an RTMP publish that is ending ends its
   *  feed before it leaves the registry, while its bridge is still stopping). */
  private liveStream(key: string): LiveStream {
    const stream = this.playing(key);
    if (!stream) throw new Refusal('not-found', `stream ${key} is not live`);
    return stream;
  }

  private playing(key: string): LiveStream | undefined {
    const stream = this.live.get(key);
    return stream && !stream.room.isClosed && !stream.feed.ended ? stream : undefined;
  }

  /** The live stream, started first when it is not live but is one the server makes on request (a rendition). */
  private async playable(key: string, name: StreamAddress): Promise<LiveStream> {
    if (!this.playing(key)) await this.options.startOnDemand?.(name);
    return this.liveStream(key);
  }

  private checkPublish(key: string, role: PublisherRole, name: { app: string; stream: string }): void {
    const forbid = this.forbiddenEntry(streamPath(name));
    if (forbid) throw forbiddenRefusal(name, forbid);
    if (this.pending.has(pendingKey(key, role))) throw conflictRefusal(key, role);
  }

  /** Takes a viewer seat on a stream; the function returned gives it back (once). */
  private takeSeat(key: string): () => void {
    this.seats.set(key, (this.seats.get(key) ?? 0) + 1);
    this.seatsTotal++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.seats.get(key) ?? 1) - 1;
      if (left > 0) this.seats.set(key, left);
      else this.seats.delete(key);
      this.seatsTotal--;
    };
  }

  /** The live stream of this name: in `ingestDomain` when given, else the first of that name in any domain. */
  get(app: string, stream: string, ingestDomain?: string): LiveStream | undefined {
    if (ingestDomain !== undefined) return this.live.get(streamKey(ingestDomain, { app, stream }));
    return this.live.get(streamKey(undefined, { app, stream })) ?? this.list().find((s) => s.app === app && s.stream === stream);
  }

  /** The live stream of exactly this name and ingest domain (undefined: the default domain). */
  at(address: StreamAddress): LiveStream | undefined {
    return this.live.get(streamKey(address.ingestDomain, address));
  }

  list(): LiveStream[] {
    return [...this.live.values()];
  }

  /** Live streams whose publishers left, waiting for a new one for their grace (their viewers kept). */
  waitingStreams(): LiveStream[] {
    return this.list().filter((s) => s.room.isWaiting);
  }

  /** Whether this stream is still the live one of its name (a new publish of the name replaces it). */
  isLive(stream: LiveStream): boolean {
    return this.live.get(stream.key) === stream;
  }

  /** Kicks the name's publishers (in every domain) and refuses publishes of it (WHIP and RTMP) until `until`. */
  forbid(app: string, stream: string, until: Date): { forbidden: ForbiddenStream; kicked: boolean } {
    const path = streamPath({ app, stream });
    const forbidden = { app, stream, until };
    this.forbids.set(path, forbidden);
    const live = this.list().filter((s) => s.app === app && s.stream === stream);
    for (const s of live) s.kick(`stream forbidden until ${until.toISOString()}`);
    for (const pending of this.pending.values()) {
      if (pending.app !== app || pending.stream !== stream) continue;
      pending.forbidden = true;
      pending.room?.close();
    }
    this.logger.info({ stream: path, until: until.toISOString(), kicked: live.length > 0 }, 'stream forbidden');
    return { forbidden, kicked: live.length > 0 };
  }

  /** Lifts a forbid; false if the name was not forbidden (or the forbid had run out). */
  resume(app: string, stream: string): boolean {
    const path = streamPath({ app, stream });
    const was = this.forbiddenEntry(path) !== undefined;
    this.forbids.delete(path);
    if (was) this.logger.info({ stream: path }, 'stream resumed');
    return was;
  }

  /** The names forbidden now. */
  forbidden(): ForbiddenStream[] {
    return [...this.forbids.keys()].map((key) => this.forbiddenEntry(key)).filter((f): f is ForbiddenStream => f !== undefined);
  }

  private forbiddenEntry(path: string): ForbiddenStream | undefined {
    const entry = this.forbids.get(path);
    if (entry && entry.until.getTime() <= Date.now()) {
      this.forbids.delete(path);
      return undefined;
    }
    return entry;
  }

  closeAll(reason: string): void {
    for (const stream of [...this.live.values()]) stream.kick(reason);
    for (const pending of this.pending.values()) pending.room?.close();
  }
}

/** `?backup=1` (or true/yes) in the WHIP URL or the RTMP stream key marks a stream's backup publisher. */
function roleOf(query: Record<string, string>): PublisherRole {
  return /^(1|true|yes)$/i.test(query.backup ?? '') ? 'backup' : 'primary';
}

const pendingKey = (key: string, role: PublisherRole): string => `${key}#${role}`;

/** Whether a stream has a publisher in this role now (a simulcast stream has only its one, primary). */
function roleHeld(entry: StreamEntry, role: PublisherRole): boolean {
  const { room } = entry.stream;
  const states = room.sourceStates();
  return states.length > 0 ? states.some((s) => s.role === role) : role === 'primary' && !room.isWaiting && !room.isClosed;
}

function conflictRefusal(key: string, role: PublisherRole): Refusal {
  return new Refusal('conflict', role === 'primary' ? `stream ${key} is already being published` : `stream ${key} already has a backup publisher`);
}

/** What going live needs of the request that published the stream. */
type GoLiveRequest = Pick<MediaRequest, 'app' | 'stream' | 'host' | 'ip' | 'query'>;

function forbiddenRefusal(name: { app: string; stream: string }, forbid: ForbiddenStream): Refusal {
  return Refusal.denied('forbidden', `stream ${streamPath(name)} is forbidden until ${forbid.until.toISOString().replace(/\.000Z$/, 'Z')}`);
}
