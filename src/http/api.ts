// Health and the control API. /api/* needs the admin token when one is configured; with none it answers
// loopback clients only, so the embedded defaults are safe on a public host (CONTRACT.md). The OpenAPI document
// of these routes (GET /api/openapi.json) sits behind the same rule.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/swagger'; // route schema fields: summary, tags, hide
import { Type, type Static } from 'typebox';
import type { Sfu } from '../../sfu/index.js';
import { hostName, Refusal, STREAM_NAME_PATTERN } from '../core/index.js';
import { type SessionStore } from '../../signaling/index.js';
import { sameSecret } from '../access/Authorizer.js';
import type { DenialCounter } from '../access/denials.js';
import { signAuthKey } from '../access/signedUrl.js';
import { DomainSchema, RelayRuleSchema, type RelayRule } from '../config/config.js';
import type { DomainConfig, Domains, DomainSettings } from '../access/Domains.js';
import type { RelayManager } from '../media/RelayManager.js';
import type { StreamRegistry } from '../streams/StreamRegistry.js';
import { describeStream, type StreamExtras } from '../streams/describe.js';

export interface ApiOptions {
  sfu: Sfu;
  registry: StreamRegistry;
  relays: RelayManager;
  /** What other parts of the server add to each stream's description (relay and recording state, HLS). */
  extras: StreamExtras;
  adminToken: string | undefined;
  isReady: () => boolean;
  /** WHIP/WHEP session resources (DELETE /api/sessions/{id} kicks one). */
  sessions?: SessionStore;
  /** Signing keys for POST /api/urls. */
  domains?: Domains;
  /** The RTMP port bound (for generated RTMP URLs). */
  rtmpPort?: () => number;
  /** Counts refused admin requests. */
  denials?: DenialCounter;
}

const Name = Type.String({ pattern: STREAM_NAME_PATTERN });
const StreamParams = Type.Object({ app: Name, stream: Name });
const Message = Type.Object({ message: Type.String() });
const Forbidden = Type.Object({ app: Type.String(), stream: Type.String(), until: Type.String({ format: 'date-time' }) });
const ForbidBody = Type.Object(
  { until: Type.Union([Type.String({ format: 'date-time', description: 'ISO date' }), Type.Integer({ minimum: 1, description: 'seconds from now' })]) },
  { additionalProperties: false },
);
const UrlsBody = Type.Object(
  {
    app: Name,
    stream: Name,
    /** Default: the domain's validity period. */
    validityMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 525600 })),
    /** The ingest domain (default: this request's Host). */
    host: Type.Optional(Type.String({ minLength: 1 })),
    /** The streaming domain of the playback URLs (default: host). */
    playbackHost: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
const UrlsReply = Type.Object({
  whip: Type.String(),
  rtmp: Type.Object({ url: Type.String(), obsServer: Type.String(), obsStreamKey: Type.String() }),
  whep: Type.String(),
  hls: Type.String(),
  flv: Type.String(),
  signed: Type.Boolean(),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const Session = Type.Object({ id: Type.String(), kind: Type.String(), app: Type.String(), stream: Type.String(), location: Type.String(), iceState: Type.String() });
const tags = (tag: string) => ({ tags: [tag] });
const HostParams = Type.Object({ host: Type.String({ minLength: 1 }) });
/** A domain as PUT takes it: the config file's form; the host comes from the URL. */
const DomainBody = Type.Object({ ...DomainSchema.properties, host: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });

/** A domain as the API shows it: signing keys are not shown. */
function redacted(domain: DomainConfig): DomainConfig {
  if (!domain.auth) return domain;
  const { primaryKey, secondaryKey, ...auth } = domain.auth;
  return { ...domain, auth: { ...auth, ...(primaryKey === undefined ? {} : { primaryKey: '***' }), ...(secondaryKey === undefined ? {} : { secondaryKey: '***' }) } };
}

export async function api(fastify: FastifyInstance, options: ApiOptions): Promise<void> {
  fastify.get('/healthz', (_request, reply) => {
    if (!options.isReady()) return reply.code(503).send({ status: 'starting' });
    return reply.send({ status: 'ok', workers: options.sfu.workerCount, streams: options.registry.list().length });
  });

  await fastify.register((admin, _options, done) => {
    admin.addHook('onRequest', (request, _reply, next) => {
      const refusal = adminRefusal(request, options.adminToken);
      if (refusal) options.denials?.record('admin_token');
      next(refusal);
    });
    const { registry } = options;

    // Streams: list, one, kick, forbid/resume.
    admin.get('/api/streams', { schema: { ...tags('streams'), summary: 'Live streams with their codecs, bitrates, loss, RTT, viewers, uptime, transcode path, relay and recording state' } }, async () => ({
      streams: await Promise.all(registry.list().map((live) => describeStream(live, options.extras))),
    }));
    admin.get<{ Params: Static<typeof StreamParams> }>('/api/streams/:app/:stream', { schema: { ...tags('streams'), summary: 'One live stream', params: StreamParams } }, async (request) => {
      const live = registry.get(request.params.app, request.params.stream);
      if (!live) throw new Refusal('not-found', `stream ${request.params.app}/${request.params.stream} is not live`);
      return describeStream(live, options.extras);
    });
    admin.post<{ Params: Static<typeof StreamParams> }>(
      '/api/streams/:app/:stream/kick',
      { schema: { ...tags('streams'), summary: 'Disconnect the publisher (it may publish again)', params: StreamParams, response: { 200: Message } } },
      (request) => {
        const { app, stream } = request.params;
        const live = registry.get(app, stream);
        if (!live) throw new Refusal('not-found', `stream ${app}/${stream} is not live`);
        live.kick('kicked by the control API');
        return { message: `publisher of ${app}/${stream} kicked` };
      },
    );
    admin.post<{ Params: Static<typeof StreamParams>; Body: Static<typeof ForbidBody> }>(
      '/api/streams/:app/:stream/forbid',
      { schema: { ...tags('streams'), summary: 'Kick the publisher and refuse publishes of this name (WHIP and RTMP) until a time', params: StreamParams, body: ForbidBody, response: { 200: Type.Object({ ...Forbidden.properties, kicked: Type.Boolean() }) } } },
      (request) => {
        const { until } = request.body;
        const date = typeof until === 'number' ? new Date(Date.now() + until * 1000) : new Date(until);
        if (Number.isNaN(date.getTime())) throw new Refusal('invalid', `until: not a date: ${String(until)}`);
        if (date.getTime() <= Date.now()) throw new Refusal('invalid', `until: ${date.toISOString()} is in the past`);
        const { forbidden, kicked } = registry.forbid(request.params.app, request.params.stream, date);
        return { app: forbidden.app, stream: forbidden.stream, until: forbidden.until.toISOString(), kicked };
      },
    );
    admin.delete<{ Params: Static<typeof StreamParams> }>(
      '/api/streams/:app/:stream/forbid',
      { schema: { ...tags('streams'), summary: 'Resume: allow publishes of this name again', params: StreamParams } },
      (request, reply) => {
        const { app, stream } = request.params;
        if (!registry.resume(app, stream)) throw new Refusal('not-found', `stream ${app}/${stream} is not forbidden`);
        return reply.code(204).send();
      },
    );
    admin.get('/api/forbidden', { schema: { ...tags('streams'), summary: 'Names whose publishes are refused, and until when', response: { 200: Type.Object({ forbidden: Type.Array(Forbidden) }) } } }, () => ({
      forbidden: registry.forbidden().map((f) => ({ app: f.app, stream: f.stream, until: f.until.toISOString() })),
    }));

    // Sessions (WHIP publishers and WHEP viewers): list, kick.
    const sessions = options.sessions;
    if (sessions) {
      admin.get('/api/sessions', { schema: { ...tags('sessions'), summary: 'WHIP and WHEP session resources', response: { 200: Type.Object({ sessions: Type.Array(Session) }) } } }, () => ({
        sessions: sessions.list().map((s) => ({ id: s.id, kind: s.kind, app: s.app, stream: s.stream, location: s.location, iceState: s.peer.iceState })),
      }));
      admin.delete<{ Params: { id: string } }>(
        '/api/sessions/:id',
        { schema: { ...tags('sessions'), summary: 'Close a session: kick a WHEP viewer (or a WHIP publisher)', params: Type.Object({ id: Type.String() }) } },
        (request, reply) => {
          const session = sessions.list().find((s) => s.id === request.params.id);
          if (!session) throw new Refusal('not-found', `no session ${request.params.id}`);
          session.peer.close('kicked by the control API');
          return reply.code(204).send();
        },
      );
    }

    // Signed ingest and playback URLs.
    const domains = options.domains;
    if (domains) {
      admin.post<{ Body: Static<typeof UrlsBody> }>(
        '/api/urls',
        { schema: { ...tags('urls'), summary: 'Signed ingest (WHIP, RTMP with the OBS server/key split) and playback (WHEP, HLS, FLV) URLs', body: UrlsBody, response: { 200: UrlsReply } } },
        (request) => generateUrls(request, request.body, domains, options.rtmpPort?.() ?? 1935),
      );
    }

    // Domains: applied to requests from now on, without a restart (not written back to the config file).
    if (domains) {
      admin.get('/api/domains', { schema: { ...tags('domains'), summary: 'Configured domains (signing keys shown as ***)' } }, () => ({ domains: domains.configured().map(redacted) }));
      admin.get<{ Params: Static<typeof HostParams> }>('/api/domains/:host', { schema: { ...tags('domains'), summary: 'One domain', params: HostParams } }, (request) => {
        const found = domains.configured().find((d) => hostName(d.host) === hostName(request.params.host));
        if (!found) throw new Refusal('not-found', `no domain ${request.params.host}`);
        return redacted(found);
      });
      admin.put<{ Params: Static<typeof HostParams>; Body: Static<typeof DomainBody> }>(
        '/api/domains/:host',
        { schema: { ...tags('domains'), summary: 'Add or replace a domain (the whole entry, signing keys included)', params: HostParams, body: DomainBody } },
        (request) => {
          const domain: DomainConfig = { ...request.body, host: request.params.host };
          if (request.body.host !== undefined && hostName(request.body.host) !== hostName(request.params.host)) throw new Refusal('invalid', `host ${request.body.host} does not match the URL's ${request.params.host}`);
          const problems = domains.set(domain);
          if (problems.length > 0) throw new Refusal('invalid', `invalid domain: ${problems.join('; ')}`);
          return redacted(domain);
        },
      );
      admin.delete<{ Params: Static<typeof HostParams> }>('/api/domains/:host', { schema: { ...tags('domains'), summary: 'Remove a domain (its host falls back to the default domain)', params: HostParams } }, (request, reply) => {
        const problems = domains.remove(request.params.host);
        if (problems === undefined) throw new Refusal('not-found', `no domain ${request.params.host}`);
        if (problems.length > 0) throw new Refusal('conflict', `cannot remove ${request.params.host}: ${problems.join('; ')}`);
        return reply.code(204).send();
      });
    }

    // Relays and workers.
    admin.get('/api/relays', { schema: { ...tags('relays'), summary: 'Relay rules' } }, () => ({ relays: options.relays.listRules() }));
    admin.post<{ Body: RelayRule }>('/api/relays', { schema: { ...tags('relays'), summary: 'Add a relay rule', body: RelayRuleSchema } }, (request, reply) => reply.code(201).send(options.relays.addRule(request.body)));
    admin.delete<{ Params: { id: string } }>('/api/relays/:id', { schema: { ...tags('relays'), summary: 'Remove a relay rule', params: Type.Object({ id: Type.String() }) } }, async (request, reply) => {
      await options.relays.removeRule(request.params.id);
      return reply.code(204).send();
    });
    admin.get('/api/workers', { schema: { ...tags('workers'), summary: 'mediasoup workers: pid, transports, CPU' } }, async () => ({ workers: await options.sfu.workerUsage() }));

    // The OpenAPI document (when @fastify/swagger is registered on the server).
    admin.get('/api/openapi.json', { schema: { hide: true } }, (_request, reply) => {
      const swagger = (fastify as unknown as { swagger?: () => unknown }).swagger;
      if (!swagger) throw new Refusal('not-found', 'no OpenAPI document: @fastify/swagger is not registered');
      return reply.send(swagger.call(fastify));
    });
    done();
  });
}

/** The URLs of app/stream, signed with the domains' primary keys when they have one. */
function generateUrls(request: FastifyRequest, body: Static<typeof UrlsBody>, domains: Domains, rtmpPort: number): Static<typeof UrlsReply> {
  const requestHost = request.headers.host ?? request.hostname;
  const ingestHost = withPort(body.host, requestHost);
  const playbackHost = withPort(body.playbackHost ?? body.host, requestHost);
  const ingest = domains.resolve(ingestHost);
  const playback = domains.resolve(playbackHost);
  const now = Date.now();
  const validity = body.validityMinutes;
  const { app, stream } = body;
  const path = `/${app}/${stream}`;
  const sign = (domain: DomainSettings, signedPath: string): string => {
    const key = domain.auth.primaryKey;
    if (key === undefined) return '';
    // Valid until timestamp + the domain's validity: shift the timestamp so that it ends after the asked validity.
    const minutes = validity ?? domain.auth.validityMinutes;
    const timestamp = Math.floor(now / 1000) + (minutes - domain.auth.validityMinutes) * 60;
    return `auth_key=${signAuthKey(signedPath, key, timestamp, randomBytes(8).toString('hex'), '0')}`;
  };
  const query = (q: string) => (q ? `?${q}` : '');
  const http = (host: string) => `${request.protocol}://${host}`;
  const obsServer = `rtmp://${bracketed(hostName(ingestHost))}${rtmpPort === 1935 ? '' : `:${rtmpPort}`}/${app}`;
  const obsStreamKey = `${stream}${query(sign(ingest, path))}`;
  const signedDomains = [ingest, playback].filter((d) => d.auth.primaryKey !== undefined);
  const expiries = signedDomains.map((d) => now + (validity ?? d.auth.validityMinutes) * 60_000);
  return {
    whip: `${http(ingestHost)}/whip${path}${query(sign(ingest, path))}`,
    rtmp: { url: `${obsServer}/${obsStreamKey}`, obsServer, obsStreamKey },
    whep: `${http(playbackHost)}/whep${path}${query(sign(playback, path))}`,
    hls: `${http(playbackHost)}/live${path}.m3u8${query(sign(playback, `${path}.m3u8`))}`,
    flv: `${http(playbackHost)}/live${path}.flv${query(sign(playback, `${path}.flv`))}`,
    signed: signedDomains.length > 0,
    expiresAt: expiries.length > 0 ? new Date(Math.min(...expiries)).toISOString() : null,
  };
}

/** A host for URLs: the given one (keeping the request's port when it names none), else the request's Host. */
function withPort(host: string | undefined, requestHost: string): string {
  if (host === undefined) return requestHost;
  const port = /:(\d+)$/.exec(requestHost)?.[1];
  const hasPort = /^\[.*\]:\d+$/.test(host) || (!host.startsWith('[') && host.split(':').length === 2);
  return hasPort || port === undefined ? host : `${host}:${port}`;
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function adminRefusal(request: FastifyRequest, token: string | undefined): Refusal | undefined {
  if (token === undefined) {
    return isLoopback(request.socket.remoteAddress ?? '') ? undefined : new Refusal('denied', 'the control API answers loopback clients only until an admin token is configured');
  }
  const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (given === undefined) return new Refusal('unauthenticated', 'the control API requires Authorization: Bearer <admin token>');
  return sameSecret(given, token) ? undefined : new Refusal('denied', 'invalid admin token');
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
