// Playback on the embedded standard-latency domain: /live/{app}/{stream}.m3u8 (HLS, with its segments
// /live/{app}/{stream}-{n}.ts), /live/{app}/{stream}.m3u8?abr=1 (the multivariant playlist of the stream and its
// renditions) and /live/{app}/{stream}.flv (HTTP-FLV). Same authorization as WHEP; streams of
// half-second (WebRTC-only) domains are refused. Segments carry their playlist's auth_key/token (appended to the
// URIs the playlist lists) and are checked against the playlist's path.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Domains } from '../access/Domains.js';
import { resignAuthKey } from '../access/signedUrl.js';
import { Refusal, STREAM_NAME_PATTERN, streamPath } from '../core/index.js';
import { mediaRequest } from '../../signaling/index.js';
import { encodeTag, flvHeader, type FlvTag } from '../media/flv/tag.js';
import type { LiveHls } from '../media/LiveHls.js';
import { multivariantPlaylist, type HlsVariant } from '../media/hlsMultivariant.js';
import { renditionName, type RenditionPlan, type SourceVideo } from '../media/transcoding/plan.js';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';

export interface LiveOptions {
  registry: StreamRegistry;
  hls: LiveHls;
  /** The renditions a stream's multivariant playlist lists. */
  ladder: { hlsLadder(source: LiveStream): Promise<{ video: SourceVideo | undefined; renditions: RenditionPlan[] }> };
  /** The keys that sign the variants' playlists of a multivariant playlist asked for with an auth_key. */
  domains: Pick<Domains, 'resolve'>;
}

const M3U8 = 'application/vnd.apple.mpegurl';
/** MPEG-TS and PES headers over the media's own bitrate. */
const TS_OVERHEAD = 1.1;
const AAC_LC = 'mp4a.40.2';

/** A slow HTTP-FLV client is disconnected rather than buffered without bound. */
const MAX_FLV_BACKLOG_BYTES = 8 * 1024 * 1024;
const FILE = /^(?<stream>.+?)(?:\.(?<ext>m3u8|flv)|-(?<segment>\d+)\.ts)$/;
const NAME = new RegExp(STREAM_NAME_PATTERN);

export function live(fastify: FastifyInstance, options: LiveOptions, done: (error?: Error) => void): void {
  const params = Type.Object({ app: Type.String({ pattern: STREAM_NAME_PATTERN }), file: Type.String({ maxLength: 160 }) });
  // abr: 1 for the multivariant playlist (m3u8 only); other parameters (token, auth_key) are the authorization's.
  const querystring = Type.Object({ abr: Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1')])) });
  fastify.get<{ Params: { app: string; file: string }; Querystring: { abr?: '0' | '1' } }>('/live/:app/:file', { schema: { params, querystring } }, async (request, reply) => {
    const match = FILE.exec(request.params.file)?.groups;
    const stream = match?.stream ?? '';
    if (!match || !NAME.test(stream)) throw new Refusal('not-found', `no such file: expected {stream}.m3u8, {stream}.flv or {stream}-{n}.ts`);
    const ext = match.ext ?? 'ts';
    if (request.query.abr === '1' && ext !== 'm3u8') throw new Refusal('invalid', 'abr=1 is for the playlist ({stream}.m3u8?abr=1)');
    const liveStream = await admit(options.registry, request, request.params.app, stream, ext);
    void reply.header('cache-control', 'no-cache');
    if (ext === 'flv') return reply.type('video/x-flv').send(flvStream(liveStream, request));
    const query = request.query as Record<string, unknown>;
    if (ext === 'm3u8' && request.query.abr === '1') return reply.type(M3U8).send(await multivariant(liveStream, request, options));
    if (ext === 'm3u8') {
      const playlist = await readFile(await options.hls.playlist(liveStream), 'utf8');
      return reply.type(M3U8).send(withCredentials(playlist, query));
    }
    const segment = options.hls.segment(liveStream, request.params.file);
    if (!segment) throw new Refusal('not-found', `segment ${request.params.file} is not (or no longer) available`);
    return reply.type('video/mp2t').send(createReadStream(segment));
  });
  done();
}

function admit(registry: StreamRegistry, request: FastifyRequest, app: string, stream: string, ext: string): Promise<LiveStream> {
  const media = mediaRequest(request, { app, stream }, ext === 'flv' ? 'flv' : 'hls');
  // Signed URLs hash the file path (/{app}/{stream}.m3u8), as for a standard live service. A segment
  // is authorized by its playlist's credentials, which the playlist appends to its segment URIs (withCredentials).
  // The admission hook is asked for playlists and FLV plays, not for each segment (nor does a segment start a rendition).
  return registry.admitStandardPlay({ ...media, bearerToken: media.bearerToken ?? media.query.token, path: `/${app}/${stream}.${ext === 'ts' ? 'm3u8' : ext}` }, { segment: ext === 'ts' });
}

/** The playlist with the request's auth_key and token appended to each segment URI, so segments pass the same checks. */
export function withCredentials(playlist: string, query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const name of ['auth_key', 'token']) if (typeof query[name] === 'string') params.set(name, query[name]);
  if (params.size === 0) return playlist;
  return playlist
    .split('\n')
    .map((line) => (line === '' || line.startsWith('#') ? line : `${line}${line.includes('?') ? '&' : '?'}${params.toString()}`))
    .join('\n');
}

/**
 * The source first, then its renditions: their size, rate, codecs and bitrate (the source's as measured, the
 * renditions' from their templates). Each variant's URI carries the request's token, or an auth_key of its own
 * path with the request's expiry.
 */
async function multivariant(live: LiveStream, request: FastifyRequest, options: LiveOptions): Promise<string> {
  const { video, renditions } = await options.ladder.hlsLadder(live);
  const audio = live.feed.tracks.audio ? [AAC_LC] : [];
  const rate = video?.rate?.split('/').map(Number);
  const variant = (stream: string, bandwidthBps: number, size: { width: number; height: number } | undefined, fps: number | undefined, codec: string | undefined): HlsVariant => ({
    uri: variantUri(live.app, stream, request, options.domains),
    bandwidthBps,
    width: size?.width,
    height: size?.height,
    fps,
    codecs: codec === undefined ? [] : [codec, ...audio], // CODECS names every codec or none
  });
  const rungs = renditions.map((plan) => variant(renditionName(live.stream, plan.templateId), (plan.bitrateKbps + (audio.length > 0 ? plan.aacKbps : 0)) * 1000 * TS_OVERHEAD, plan, plan.fps, `avc1.${plan.profileLevelId}`));
  const stats = await live.room.stats().catch(() => undefined);
  const measuredBps = (stats?.ingress ?? []).reduce((total, track) => total + track.bitrateBps, 0) * TS_OVERHEAD;
  // Above every rendition even before a bitrate has been measured: players take the order from BANDWIDTH.
  const sourceBps = Math.max(measuredBps, ...rungs.map((r) => r.bandwidthBps + 1));
  const fps = rate?.length === 2 && rate[1] ? rate[0]! / rate[1] : undefined;
  return multivariantPlaylist([variant(live.stream, sourceBps, video, fps, video?.codec), ...rungs]);
}

function variantUri(app: string, stream: string, request: FastifyRequest, domains: LiveOptions['domains']): string {
  const query = request.query as Record<string, unknown>;
  const params = new URLSearchParams();
  if (typeof query.token === 'string') params.set('token', query.token);
  if (typeof query.auth_key === 'string') {
    const { auth } = domains.resolve((request.headers.host ?? '').replace(/:\d+$/, ''));
    const key = auth.primaryKey ?? auth.secondaryKey;
    const signed = key === undefined ? undefined : resignAuthKey(query.auth_key, `/${app}/${stream}.m3u8`, key);
    if (signed !== undefined) params.set('auth_key', signed);
  }
  return `${stream}.m3u8${params.size > 0 ? `?${params.toString()}` : ''}`;
}

/** The live stream as FLV: header, metadata and sequence headers, the current GOP, then live tags. */
function flvStream(live: LiveStream, request: FastifyRequest): PassThrough {
  const out = new PassThrough();
  out.write(flvHeader(live.feed.tracks.audio, live.feed.tracks.video));
  const onTag = (tag: FlvTag): void => {
    if (out.destroyed) return;
    if (out.writableLength > MAX_FLV_BACKLOG_BYTES) {
      request.log.warn({ stream: streamPath(live) }, 'HTTP-FLV client too slow; disconnecting');
      out.destroy();
      return;
    }
    out.write(encodeTag(tag));
  };
  const subscription = live.feed.subscribe(onTag, 'gop', () => out.end());
  // However the response ends (stream over, client too slow, player gone: fastify then destroys `out`). 'close'
  // comes after subscribe() has returned even when the GOP it replays already overflows the backlog.
  out.once('close', () => subscription.close());
  return out;
}
