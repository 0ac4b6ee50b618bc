// Stream events as callbacks: publish / unpublish (the registry's live / offline) and play / stop_play (WHEP
// session resources opening and closing). Fire and forget.
import type { Session, SessionStore } from '../../signaling/index.js';
import type { StreamRegistry } from '../streams/StreamRegistry.js';
import type { CallbackSender } from './CallbackSender.js';

export interface StreamEvent extends Record<string, unknown> {
  event: 'publish' | 'unpublish' | 'play' | 'stop_play';
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
}

export function attachStreamCallbacks(registry: StreamRegistry, sessions: SessionStore, sender: CallbackSender): void {
  if (!sender.enabled) return;

  // A WHEP session resource is one play: its request's address and host are on the session.
  sessions.on('open', (session) => {
    if (session.kind !== 'whep') return;
    const joinedAt = Date.now();
    const play = { app: session.app, stream: session.stream, domain: session.host, protocol: 'whep', ip: session.ip, sessionId: session.id };
    sender.send({ event: 'play', ...play, time: new Date(joinedAt).toISOString() } satisfies StreamEvent);
    const onClose = (closed: Session, reason: string): void => {
      if (closed !== session) return;
      sessions.off('close', onClose);
      sender.send({ event: 'stop_play', ...play, time: new Date().toISOString(), reason, durationSeconds: Math.round((Date.now() - joinedAt) / 100) / 10 } satisfies StreamEvent);
    };
    sessions.on('close', onClose);
  });

  registry.on('live', (stream) => {
    sender.send({
      event: 'publish', app: stream.app, stream: stream.stream, domain: stream.host, protocol: stream.protocol, ip: stream.ip ?? null, sessionId: stream.sessionId ?? null,
      time: new Date().toISOString(),
    } satisfies StreamEvent);
  });

  registry.on('offline', (stream) => {
    sender.send({
      event: 'unpublish', app: stream.app, stream: stream.stream, domain: stream.host, protocol: stream.protocol, ip: stream.ip ?? null, sessionId: stream.sessionId ?? null,
      time: new Date().toISOString(), durationSeconds: Math.round((Date.now() - stream.startedAt.getTime()) / 100) / 10,
    } satisfies StreamEvent);
  });
}
