// The WHIP/WHEP session resources (RFC 9725 §4.3) this server has handed out: Location id → peer.
// A session leaves the store when its peer closes, whatever closed it (DELETE, timeout, stream end). Its id is
// remembered for a while after that, so that a client that closed its peer connection before sending DELETE
// (the server saw the DTLS close first) gets 200 for that DELETE rather than 404.
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { WebRtcPeer } from '../sfu/index.js';

export type SessionKind = 'whip' | 'whep';

export interface Session {
  id: string;
  kind: SessionKind;
  app: string;
  stream: string;
  /** The client's address and the request's host (its domain), for events and the API. */
  ip: string;
  host: string;
  peer: WebRtcPeer;
  etag: string;
  /** The client's ICE username fragment; a PATCH with another one is an ICE restart. */
  remoteUfrag: string;
  location: string;
}

export function newSessionId(): string {
  return randomUUID();
}

export function newEtag(): string {
  return `"${randomBytes(8).toString('hex')}"`;
}

/** `open`: a session resource was created; `close`: its peer closed (with the reason). */
export type SessionEvents = { open: [Session]; close: [Session, string] };

/** How long an ended session's id still answers DELETE with 200, and how many such ids are kept at most. */
const ENDED_SESSION_MEMORY_MS = 5 * 60_000;
const ENDED_SESSION_MAX = 10_000;

export class SessionStore extends EventEmitter<SessionEvents> {
  private readonly sessions = new Map<string, Session>();
  /** Ids of sessions that ended, with their kind and when; oldest first (a Map keeps insertion order). */
  private readonly ended = new Map<string, { kind: SessionKind; at: number }>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  add(session: Session): void {
    this.sessions.set(session.id, session);
    session.peer.once('close', (reason) => {
      this.sessions.delete(session.id);
      this.remember(session);
      this.emit('close', session, reason);
    });
    this.emit('open', session);
  }

  get(kind: SessionKind, id: string): Session | undefined {
    const session = this.sessions.get(id);
    return session?.kind === kind ? session : undefined;
  }

  /** Whether a session of this kind and id ended within ENDED_SESSION_MEMORY_MS. */
  endedRecently(kind: SessionKind, id: string): boolean {
    this.forgetOld();
    return this.ended.get(id)?.kind === kind;
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  get size(): number {
    return this.sessions.size;
  }

  closeAll(reason: string): void {
    for (const session of [...this.sessions.values()]) session.peer.close(reason);
  }

  private remember(session: Session): void {
    this.ended.set(session.id, { kind: session.kind, at: this.now() });
    this.forgetOld();
  }

  private forgetOld(): void {
    const cutoff = this.now() - ENDED_SESSION_MEMORY_MS;
    for (const [id, entry] of this.ended) {
      if (entry.at > cutoff && this.ended.size <= ENDED_SESSION_MAX) break;
      this.ended.delete(id);
    }
  }
}
