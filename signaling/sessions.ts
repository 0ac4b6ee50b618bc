// The WHIP/WHEP session resources (RFC 9725 §4.3) this server has handed out: Location id → peer.
// A session leaves the store when its peer closes, whatever closed it (DELETE, timeout, stream end).
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

export class SessionStore extends EventEmitter<SessionEvents> {
  private readonly sessions = new Map<string, Session>();

  add(session: Session): void {
    this.sessions.set(session.id, session);
    session.peer.once('close', (reason) => {
      this.sessions.delete(session.id);
      this.emit('close', session, reason);
    });
    this.emit('open', session);
  }

  get(kind: SessionKind, id: string): Session | undefined {
    const session = this.sessions.get(id);
    return session?.kind === kind ? session : undefined;
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
}
