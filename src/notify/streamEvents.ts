// Stream events as callbacks: publish / unpublish (the registry's live / offline), switch (the publisher viewers get
// changed: a backup took over, the primary took back, one came back within the grace) and play / stop_play (WHEP
// session resources opening and closing). Fire and forget.
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';
import type { CallbackSender } from './CallbackSender.js';

export interface StreamEvent extends Record<string, unknown> {
  event: 'publish' | 'unpublish' | 'play' | 'stop_play' | 'switch';
  app: string;
  stream: string;
  /** The request's host (its domain). */
  domain: string;
  protocol: string;
  ip: string | null;
  sessionId: string | null;
  time: string;
  reason?: string;
  durationSeconds?: number;
  /** switch: the role that was active (absent after a gap with none) and the one active now. */
  from?: string;
  to?: string;
}

/** Who and what an event is about: the fields a play or a publish shares with its end. */
type EventSubject = Pick<StreamEvent, 'app' | 'stream' | 'domain' | 'protocol' | 'ip' | 'sessionId'>;

/** The parts of a WHIP/WHEP session resource (signaling/'s Session) a play event carries. */
export interface PlaySession {
  id: string;
  kind: string;
  app: string;
  stream: string;
  host: string;
  ip: string;
}

/** signaling/'s SessionStore as seen from here (notify/ does not import the protocol layer). */
export interface SessionEvents {
  on(event: 'open', listener: (session: PlaySession) => void): unknown;
  on(event: 'close', listener: (session: PlaySession, reason: string) => void): unknown;
}

export function attachStreamCallbacks(registry: StreamRegistry, sessions: SessionEvents, sender: CallbackSender): void {
  if (!sender.enabled) return;

  // A WHEP session resource is one play: its request's address and host are on the session. One 'close' listener
  // for all of them (not one per session on the shared store), finding the play by its session.
  const plays = new Map<PlaySession, { joinedAt: number; play: EventSubject }>();
  sessions.on('open', (session) => {
    if (session.kind !== 'whep') return;
    const joinedAt = Date.now();
    const play = { app: session.app, stream: session.stream, domain: session.host, protocol: 'whep', ip: session.ip, sessionId: session.id };
    plays.set(session, { joinedAt, play });
    sender.send({ event: 'play', ...play, time: new Date(joinedAt).toISOString() } satisfies StreamEvent);
  });
  sessions.on('close', (session, reason) => {
    const joined = plays.get(session);
    if (!joined) return;
    plays.delete(session);
    sender.send({ event: 'stop_play', ...joined.play, time: new Date().toISOString(), reason, durationSeconds: Math.round((Date.now() - joined.joinedAt) / 100) / 10 } satisfies StreamEvent);
  });

  // A publish lasts from the stream going live to its going offline.
  const published = (stream: LiveStream): EventSubject => ({
    app: stream.app, stream: stream.stream, domain: stream.host, protocol: stream.protocol, ip: stream.ip, sessionId: stream.sessionId,
  });
  registry.on('live', (stream) => sender.send({ event: 'publish', ...published(stream), time: new Date().toISOString() } satisfies StreamEvent));
  registry.on('source', (change) => {
    // The first publisher's activation is the publish itself.
    if (change.first) return;
    sender.send({ event: 'switch', ...published(change.stream), sessionId: change.sessionId, time: new Date().toISOString(), reason: change.reason, ...(change.from ? { from: change.from } : {}), to: change.to } satisfies StreamEvent);
  });
  registry.on('offline', (stream) => {
    const durationSeconds = Math.round((Date.now() - stream.startedAt.getTime()) / 100) / 10;
    sender.send({ event: 'unpublish', ...published(stream), time: new Date().toISOString(), durationSeconds } satisfies StreamEvent);
  });
}
