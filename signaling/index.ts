// The HTTP face of media: WHIP (RFC 9725) and WHEP endpoints and their session resources, as one fastify
// plugin. Where a viewer is created: the POST /whep route below → gate.admitPlay → room.addViewer (sfu/) → the
// answer. Refusals are thrown and answered by the server's one error handler (errors.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Refusal, STREAM_NAME_PATTERN, type MediaProtocol, type MediaRequest, type StreamGate } from '../src/core/index.js';
import { WebRtcViewer, writeIceFragment, type Layers, type Room, type WebRtcPeer } from '../sfu/index.js';
import { parseSdpFragment } from './sdpfrag.js';
import { newEtag, newSessionId, SessionStore, type Session, type SessionKind } from './sessions.js';

export { errorHandler, httpStatusOf, notFoundHandler } from './errors.js';
export { SessionStore, type Session } from './sessions.js';

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface SignalingOptions {
  gate: StreamGate<Room>;
  sessions: SessionStore;
  iceServers: IceServer[];
  /** Largest SDP or sdpfrag body accepted (413 above). */
  maxSdpBytes: number;
}

const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';
const ALLOWED_HEADERS = 'Content-Type, Authorization, If-Match';

const streamParams = Type.Object({ app: Type.String({ pattern: STREAM_NAME_PATTERN }), stream: Type.String({ pattern: STREAM_NAME_PATTERN }) });
const sessionParams = Type.Object({ app: Type.String(), stream: Type.String(), session: Type.String() });
const whepQuery = Type.Object({
  spatialLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
  temporalLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
  /** lipsync=0: audio and video in separate streams of the answer (see ViewerOptions.lipSync). */
  lipsync: Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1'), Type.Literal('false'), Type.Literal('true')])),
});
const layerBody = Type.Object({
  spatialLayer: Type.Integer({ minimum: 0, maximum: 3 }),
  temporalLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
});

export function signaling(app: FastifyInstance, options: SignalingOptions, done: (error?: Error) => void): void {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const { gate, sessions } = options;
  const links = iceServerLinks(options.iceServers);

  for (const type of [SDP, SDPFRAG]) {
    fastify.addContentTypeParser(type, { parseAs: 'string', bodyLimit: options.maxSdpBytes }, (_request, body, done) => done(null, body));
  }

  for (const kind of ['whip', 'whep'] as const) {
    // Answers both CORS preflights and plain OPTIONS (RFC 9725 §4.4: clients may ask for the ICE servers).
    fastify.options(`/${kind}/:app/:stream`, (_request, reply) => {
      void reply.code(204).header('accept-post', SDP).header('link', links).header('access-control-allow-methods', 'POST, OPTIONS').header('access-control-allow-headers', ALLOWED_HEADERS).send();
    });
    fastify.options(`/${kind}/:app/:stream/:session`, (_request, reply) => {
      void reply.code(204).header('accept-patch', SDPFRAG).header('access-control-allow-methods', 'PATCH, DELETE, OPTIONS').header('access-control-allow-headers', ALLOWED_HEADERS).send();
    });

    fastify.patch(`/${kind}/:app/:stream/:session`, { schema: { params: sessionParams }, onRequest: requireContentType(SDPFRAG) }, async (request, reply) => {
      const session = findSession(sessions, kind, request.params.session);
      const ifMatch = request.headers['if-match'];
      if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== session.etag) throw new Refusal('precondition-failed', 'If-Match does not match the session ETag');
      const fragment = parseSdpFragment(typeof request.body === 'string' ? request.body : '');
      // mediasoup is ICE-lite: it learns the client's candidates from its connectivity checks, so trickled
      // candidates need no action. New credentials mean the client restarts ICE.
      if (fragment.iceUfrag === undefined || fragment.iceUfrag === session.remoteUfrag) return reply.code(204).send();
      if (fragment.icePwd === undefined) throw new Refusal('invalid', 'ICE restart without a=ice-pwd');
      const local = await session.peer.restartIce();
      session.remoteUfrag = fragment.iceUfrag;
      session.etag = newEtag();
      return reply.code(200).type(SDPFRAG).header('etag', session.etag).send(writeIceFragment(local, session.peer.mids));
    });

    // Idempotent: a session that already ended (e.g. the client closed its peer connection first) answers 200 too.
    fastify.delete(`/${kind}/:app/:stream/:session`, { schema: { params: sessionParams } }, async (request, reply) => {
      const id = request.params.session;
      if (!sessions.endedRecently(kind, id)) findSession(sessions, kind, id).peer.close('DELETE by client');
      return reply.code(200).send();
    });
  }

  fastify.post('/whip/:app/:stream', { schema: { params: streamParams }, onRequest: requireContentType(SDP) }, async (request, reply) => {
    const offer = requireBody(request.body);
    const media = mediaRequest(request, request.params, 'whip');
    const admission = await gate.admitPublish(media);
    const id = newSessionId();
    const created = await orAbort(admission, admission.room.publishWebRtc(id, offer, admission.role));
    admission.commit(created.publisher);
    const session = openSession(sessions, 'whip', media, id, created.publisher);
    request.log.info({ session: id, stream: `${media.app}/${media.stream}` }, 'WHIP session created');
    return sendCreated(reply, session, created.answer, links);
  });

  fastify.post('/whep/:app/:stream', { schema: { params: streamParams, querystring: whepQuery }, onRequest: requireContentType(SDP) }, async (request, reply) => {
    const offer = requireBody(request.body);
    const media = mediaRequest(request, request.params, 'whep');
    const admission = await gate.admitPlay(media);
    const id = newSessionId();
    const { spatialLayer, temporalLayer, lipsync } = request.query;
    const preferredLayers: Layers | undefined = spatialLayer === undefined ? undefined : { spatialLayer, ...(temporalLayer === undefined ? {} : { temporalLayer }) };
    const created = await orAbort(
      admission,
      admission.room.addViewer(id, offer, {
        streamId: `${media.app}-${media.stream}`.replace(/[^\w-]/g, '_'),
        ...(preferredLayers ? { preferredLayers } : {}),
        ...(lipsync === '0' || lipsync === 'false' ? { lipSync: false } : {}),
      }),
    );
    admission.commit(created.viewer);
    const session = openSession(sessions, 'whep', media, id, created.viewer);
    request.log.info({ session: id, stream: `${media.app}/${media.stream}` }, 'WHEP session created');
    const layerLink = `<${session.location}/layer>; rel="urn:ietf:params:whep:ext:core:layer"`;
    return sendCreated(reply, session, created.answer, [...links, layerLink]);
  });

  // Layer selection (after draft-ietf-wish-whep's "layer" extension): pin the simulcast layer a viewer gets.
  fastify.post('/whep/:app/:stream/:session/layer', { schema: { params: sessionParams, body: layerBody } }, async (request, reply) => {
    const session = findSession(sessions, 'whep', request.params.session);
    const { spatialLayer, temporalLayer } = request.body;
    if (!(session.peer instanceof WebRtcViewer)) throw new Refusal('not-found', 'not a viewer session');
    await session.peer.setPreferredLayers({ spatialLayer, ...(temporalLayer === undefined ? {} : { temporalLayer }) });
    return reply.code(204).send();
  });
  done();
}

/** The peer being created for an admission; if that fails, the admission gives back what it holds (name, seat). */
async function orAbort<T>(admission: { abort(): void }, creating: Promise<T>): Promise<T> {
  try {
    return await creating;
  } catch (error) {
    admission.abort();
    throw error;
  }
}

// Checked before the body is parsed, so a wrong type is a 415 whatever the body holds.
function requireContentType(expected: string) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    done(type === expected ? undefined : new Refusal('unsupported-media', `unsupported content type: expected ${expected}`));
  };
}

function requireBody(body: unknown): string {
  if (typeof body !== 'string' || body.trim() === '') throw new Refusal('invalid', 'empty SDP offer');
  return body;
}

/** What the gate needs to know of an HTTP request for a stream (also used by the HLS/FLV routes). */
export function mediaRequest(request: FastifyRequest, params: { app: string; stream: string }, protocol: MediaProtocol): MediaRequest {
  const auth = request.headers.authorization;
  const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth)?.[1];
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.query as Record<string, unknown>)) if (typeof value === 'string' || typeof value === 'number') query[key] = String(value);
  return {
    app: params.app,
    stream: params.stream,
    protocol,
    bearerToken: bearer || undefined,
    query,
    ip: request.ip,
    host: (request.headers.host ?? '').replace(/:\d+$/, ''),
    referer: request.headers.referer || undefined,
    path: request.url.split('?')[0] ?? request.url,
  };
}

function openSession(sessions: SessionStore, kind: SessionKind, media: MediaRequest, id: string, peer: WebRtcPeer): Session {
  const session: Session = {
    id,
    kind,
    app: media.app,
    stream: media.stream,
    ip: media.ip,
    host: media.host,
    peer,
    etag: newEtag(),
    remoteUfrag: peer.remoteIceUfrag,
    location: `/${kind}/${media.app}/${media.stream}/${id}`,
  };
  sessions.add(session);
  return session;
}

function findSession(sessions: SessionStore, kind: SessionKind, id: string): Session {
  const session = sessions.get(kind, id);
  if (!session) throw new Refusal('not-found', `no ${kind.toUpperCase()} session ${id}`);
  return session;
}

function sendCreated(reply: FastifyReply, session: Session, answer: string, links: string[]): FastifyReply {
  return reply
    .code(201)
    .type(SDP)
    .header('location', session.location)
    .header('etag', session.etag)
    .header('accept-patch', SDPFRAG)
    .header('link', links)
    .send(answer);
}

function iceServerLinks(servers: IceServer[]): string[] {
  return servers.flatMap((s) =>
    s.urls.map((url) => {
      const credentials = s.username !== undefined && s.credential !== undefined ? `; username="${s.username}"; credential="${s.credential}"; credential-type="password"` : '';
      return `<${url}>; rel="ice-server"${credentials}`;
    }),
  );
}
