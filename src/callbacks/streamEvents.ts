// Stream events as callbacks: publish / unpublish (the registry's live / offline) and play / stop_play (WHEP
// viewers: a play the registry admitted, then the room's `viewer` and that viewer's `close`). Fire and forget.
import type { MediaRequest } from '../../signaling/index.js';
import type { WebRtcViewer } from '../../sfu/index.js';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';
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

/** An admitted WHEP play waits this long for its viewer to be created (else it is forgotten). */
const PLAY_MATCH_MS = 30_000;

export function attachStreamCallbacks(registry: StreamRegistry, sender: CallbackSender): void {
  if (!sender.enabled) return;
  /** Admitted WHEP plays per stream, oldest first: the next viewer of the room is theirs. */
  const admitted = new Map<LiveStream, { request: MediaRequest; at: number }[]>();

  registry.on('playAdmitted', (request, stream) => {
    if (!request.path.startsWith('/whep/')) return;
    const queue = admitted.get(stream);
    if (queue) queue.push({ request, at: Date.now() });
  });

  registry.on('live', (stream) => {
    const base = { app: stream.app, stream: stream.stream, domain: stream.host };
    sender.send({ event: 'publish', ...base, protocol: stream.protocol, ip: stream.ip ?? null, sessionId: stream.sessionId ?? null, time: new Date().toISOString() } satisfies StreamEvent);
    const queue: { request: MediaRequest; at: number }[] = [];
    admitted.set(stream, queue);
    const onViewer = (viewer: WebRtcViewer): void => {
      while (queue.length > 0 && (queue[0]?.at ?? 0) < Date.now() - PLAY_MATCH_MS) queue.shift();
      const request = queue.shift()?.request;
      const joinedAt = Date.now();
      const play = { ...base, domain: request?.host ?? stream.host, protocol: 'whep', ip: request?.ip ?? null, sessionId: viewer.id };
      sender.send({ event: 'play', ...play, time: new Date(joinedAt).toISOString() } satisfies StreamEvent);
      viewer.once('close', (reason) => {
        sender.send({ event: 'stop_play', ...play, time: new Date().toISOString(), reason: String(reason), durationSeconds: Math.round((Date.now() - joinedAt) / 100) / 10 } satisfies StreamEvent);
      });
    };
    stream.room.on('viewer', onViewer);
    stream.room.once('close', () => stream.room.off('viewer', onViewer));
  });

  registry.on('offline', (stream) => {
    admitted.delete(stream);
    sender.send({
      event: 'unpublish', app: stream.app, stream: stream.stream, domain: stream.host, protocol: stream.protocol, ip: stream.ip ?? null, sessionId: stream.sessionId ?? null,
      time: new Date().toISOString(), durationSeconds: Math.round((Date.now() - stream.startedAt.getTime()) / 100) / 10,
    } satisfies StreamEvent);
  });
}
