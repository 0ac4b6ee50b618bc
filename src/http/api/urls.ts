// POST /api/urls: the ingest and playback URLs of a stream, signed with the domains' primary keys when they have one.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { hostName } from '../../core/index.js';
import { signAuthKey } from '../../access/signedUrl.js';
import type { Domains, DomainSettings } from '../../access/Domains.js';
import { Name } from './names.js';

export interface UrlsApiOptions {
  domains: Domains;
  /** The RTMP port bound (for generated RTMP URLs). */
  rtmpPort: () => number;
}

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

export function urls(fastify: FastifyInstance, options: UrlsApiOptions, done: () => void): void {
  fastify.post<{ Body: Static<typeof UrlsBody> }>(
    '/api/urls',
    { schema: { tags: ['urls'], summary: 'Signed ingest (WHIP, RTMP with the OBS server/key split) and playback (WHEP, HLS, FLV) URLs', body: UrlsBody, response: { 200: UrlsReply } } },
    (request) => generateUrls(request, request.body, options.domains, options.rtmpPort()),
  );
  done();
}

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
