// The live streams by name (app/stream) and the rules of going live: one publisher per name (409, or takeover
// if configured), admission through the Authorizer, a Room per live stream, offline when the room closes.
// It is signaling/'s StreamGate, and tells the rest of the server when streams go live and offline.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Room, Sfu } from '../../sfu/index.js';
import { HttpError, type MediaRequest, type PublishAdmission, type StreamGate } from '../../signaling/index.js';
import type { Authorizer } from '../auth/Authorizer.js';
import type { FlvSource } from '../flv/FlvFeed.js';
import type { Limits } from '../limits/Limits.js';

export type IngestProtocol = 'whip' | 'rtmp';

/** What the server transcodes for WebRTC viewers (RTMP ingest only; WHIP media is forwarded as is). */
export type TranscodePath = 'none' | 'audio' | 'video' | 'video+audio';

export interface PublishDetails {
  protocol: IngestProtocol;
  transcode: TranscodePath;
  /** The ingest URL's query (e.g. auth_key, record_config), for the features that read it. */
  query: Record<string, string>;
  /** The stream as FLV tags, when the ingest has them (RTMP); WebRTC streams get one from the SFU egress. */
  feed?: FlvSource;
}

/** An admission whose commit also says how the stream came in. */
export interface RegistryAdmission extends PublishAdmission {
  commit(publisher: { close(reason: string): void }, details?: PublishDetails): void;
}

export type LatencyMode = 'sub-second' | 'half-second';

export interface LiveStream extends Omit<PublishDetails, 'feed'> {
  app: string;
  stream: string;
  /** The ingest request's host (its domain). */
  host: string;
  /** The publisher's address and session id (WHIP session / RTMP publish), when known. */
  ip?: string;
  sessionId?: string;
  latencyMode: LatencyMode;
  room: Room;
  /** The stream as FLV tags for the standard-latency side (HLS, HTTP-FLV, relays, recording). */
  feed: FlvSource;
  startedAt: Date;
  /** Close the publisher (the room follows). */
  kick(reason: string): void;
}

export interface RegistryOptions {
  conflict: 'reject' | 'takeover';
  /** The latency mode of a request's domain (its host). */
  latencyMode: (host: string) => LatencyMode;
  /** The FLV feed of a stream whose ingest has none (WebRTC): the SFU egress. */
  egressFeed: (name: string, room: Room) => FlvSource;
  /** Told of each publish refused because its name is forbidden (metrics). */
  onForbidden?: () => void;
  /** The admission hook, asked after the authorizer; rejects with a 403 to refuse. */
  admission?: (action: 'publish' | 'play', request: MediaRequest) => Promise<void>;
  /** Publisher, viewer and session-rate limits (503/429). */
  limits?: Limits;
}

/** A name an operator forbade: its publishes are refused until then. */
export interface ForbiddenStream {
  app: string;
  stream: string;
  until: Date;
}

export class StreamRegistry extends EventEmitter<{ live: [LiveStream]; offline: [LiveStream] }> implements StreamGate {
  private readonly live = new Map<string, LiveStream>();
  /** Names between admission and the publisher's creation. */
  private readonly pending = new Map<string, Room>();
  /** Forbidden names (app/stream) and until when. */
  private readonly forbids = new Map<string, ForbiddenStream>();

  constructor(
    private readonly sfu: Sfu,
    private readonly authorizer: Authorizer,
    private readonly options: RegistryOptions,
    private readonly logger: Logger,
  ) {
    super();
  }

  async admitPublish(request: MediaRequest): Promise<RegistryAdmission> {
    this.authorizer.authorize('publish', request);
    const key = `${request.app}/${request.stream}`;
    this.checkPublish(key);
    const limits = this.options.limits;
    if (limits) {
      limits.takeSession(request.ip);
      if (!this.live.has(key)) limits.checkPublisher(this.live.size + this.pending.size);
    }
    if (this.options.admission) {
      await this.options.admission('publish', request);
      // The hook took time: the name may have been taken, or forbidden, meanwhile.
      this.checkPublish(key);
      if (limits && !this.live.has(key)) limits.checkPublisher(this.live.size + this.pending.size);
    }
    const current = this.live.get(key);
    if (current) {
      this.logger.info({ stream: key }, 'publisher taken over by a new one');
      current.kick('taken over by a new publisher');
    }
    const room = this.sfu.createRoom(key);
    this.pending.set(key, room);
    return {
      room,
      commit: (publisher, details) => {
        this.pending.delete(key);
        const sessionId = (publisher as { id?: unknown }).id;
        const stream: LiveStream = {
          app: request.app,
          stream: request.stream,
          host: request.host,
          ip: request.ip,
          ...(typeof sessionId === 'string' ? { sessionId } : {}),
          latencyMode: this.options.latencyMode(request.host),
          feed: details?.feed ?? this.options.egressFeed(key, room),
          protocol: details?.protocol ?? 'whip',
          transcode: details?.transcode ?? 'none',
          query: details?.query ?? request.query,
          room,
          startedAt: new Date(),
          kick: (reason) => publisher.close(reason),
        };
        this.live.set(key, stream);
        room.once('close', () => {
          if (this.live.get(key) === stream) this.live.delete(key);
          this.logger.info({ stream: key }, 'stream offline');
          this.emit('offline', stream);
        });
        this.logger.info({ stream: key, protocol: stream.protocol, transcode: stream.transcode }, 'stream live');
        this.emit('live', stream);
      },
      abort: () => {
        this.pending.delete(key);
        room.close();
      },
    };
  }

  async admitPlay(request: MediaRequest): Promise<Room> {
    this.authorizer.authorize('play', request);
    const key = `${request.app}/${request.stream}`;
    this.liveStream(key);
    this.options.limits?.takeSession(request.ip);
    this.checkViewerLimits(key);
    if (this.options.admission) {
      await this.options.admission('play', request);
      this.checkViewerLimits(key);
    }
    const stream = this.liveStream(key);
    return stream.room;
  }

  /**
   * A live stream an HLS/HTTP-FLV player may watch: same authorization as WHEP; half-second domains refuse.
   * `hook: false` skips the admission hook (HLS segments, whose playlist was admitted).
   */
  async admitStandardPlay(request: MediaRequest, options: { hook?: boolean } = {}): Promise<LiveStream> {
    this.authorizer.authorize('play', request);
    const key = `${request.app}/${request.stream}`;
    let stream = this.liveStream(key);
    if (stream.latencyMode === 'half-second') {
      throw new HttpError(403, `stream ${key} is on a half-second (WebRTC-only) domain: play it over WHEP, or relay it to a standard domain`);
    }
    if (this.options.admission && options.hook !== false) {
      await this.options.admission('play', request);
      stream = this.liveStream(key);
    }
    return stream;
  }

  /** A live stream: in the registry, its room open, and its feed not ended (an RTMP publish that is ending ends its
   *  feed before it leaves the registry, while its bridge is still stopping). */
  private liveStream(key: string): LiveStream {
    const stream = this.live.get(key);
    if (!stream || stream.room.isClosed || stream.feed.ended) throw new HttpError(404, `stream ${key} is not live`);
    return stream;
  }

  private checkPublish(key: string): void {
    const forbid = this.forbiddenEntry(key);
    if (forbid) {
      this.options.onForbidden?.();
      throw new HttpError(403, `stream ${key} is forbidden until ${forbid.until.toISOString().replace(/\.000Z$/, 'Z')}`);
    }
    if (this.pending.has(key) || (this.live.has(key) && this.options.conflict === 'reject')) throw new HttpError(409, `stream ${key} is already being published`);
  }

  private checkViewerLimits(key: string): void {
    const limits = this.options.limits;
    if (!limits) return;
    const streams = this.list();
    limits.checkViewer(key, this.live.get(key)?.room.viewerCount ?? 0, streams.reduce((sum, s) => sum + s.room.viewerCount, 0));
  }

  get(app: string, stream: string): LiveStream | undefined {
    return this.live.get(`${app}/${stream}`);
  }

  list(): LiveStream[] {
    return [...this.live.values()];
  }

  /** Kicks the stream's publisher (if live) and refuses publishes of its name (WHIP and RTMP) until `until`. */
  forbid(app: string, stream: string, until: Date): { forbidden: ForbiddenStream; kicked: boolean } {
    const key = `${app}/${stream}`;
    const forbidden = { app, stream, until };
    this.forbids.set(key, forbidden);
    const live = this.live.get(key);
    live?.kick(`stream forbidden until ${until.toISOString()}`);
    this.pending.get(key)?.close();
    this.logger.info({ stream: key, until: until.toISOString(), kicked: live !== undefined }, 'stream forbidden');
    return { forbidden, kicked: live !== undefined };
  }

  /** Lifts a forbid; false if the name was not forbidden (or the forbid had run out). */
  resume(app: string, stream: string): boolean {
    const key = `${app}/${stream}`;
    const was = this.forbiddenEntry(key) !== undefined;
    this.forbids.delete(key);
    if (was) this.logger.info({ stream: key }, 'stream resumed');
    return was;
  }

  /** The names forbidden now. */
  forbidden(): ForbiddenStream[] {
    return [...this.forbids.keys()].map((key) => this.forbiddenEntry(key)).filter((f): f is ForbiddenStream => f !== undefined);
  }

  private forbiddenEntry(key: string): ForbiddenStream | undefined {
    const entry = this.forbids.get(key);
    if (entry && entry.until.getTime() <= Date.now()) {
      this.forbids.delete(key);
      return undefined;
    }
    return entry;
  }

  closeAll(reason: string): void {
    for (const stream of [...this.live.values()]) stream.kick(reason);
    for (const room of this.pending.values()) room.close();
  }
}
