// Access control over real requests: signed URLs (method A) on WHIP, WHEP, RTMP and HLS (valid, secondary key,
// expired, tampered, missing), a Bearer token carrying the auth_key (OBS), referer lists on playback and IP lists.
// Domain 127.0.0.1 has signing keys; domain localhost only admits an IPv6 range, so loopback IPv4 is refused.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAuthKey } from '../../src/access/signedUrl.js';
import type { WhipcastServer } from '../../src/server.js';
import { rtmpEncoder } from '../helpers/encoder.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
const publishers: Publisher[] = [];
const viewers: Viewer[] = [];
const encoders: ChildProcess[] = [];
const now = () => Math.floor(Date.now() / 1000);
const key = (path: string, k = 'secret', ts = now()) => signAuthKey(path, k, ts, 'r4nd', '0');

beforeAll(async () => {
  server = await startTestServer({
    domains: [
      { host: '127.0.0.1', auth: { primaryKey: 'secret', secondaryKey: 'old' }, referer: { deny: ['*.evil.example'], allow: ['site.example'] }, corsOrigins: ['https://site.example'] },
      { host: 'localhost', ip: { allow: ['fd00::/8', '2001:db8::/32'] } },
    ],
  });
});
afterAll(async () => {
  for (const encoder of encoders) encoder.kill('SIGKILL');
  await Promise.all([...viewers, ...publishers].map((c) => c.close()));
  await server?.close();
});

const live = (stream: string) => server.registry.list().find((s) => s.app === 'live' && s.stream === stream);

/** Status and reason of a refusal (/live/ answers JSON errors, signaling plain text). */
async function why(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return `${response.status} ${(JSON.parse(text) as { message: string }).message}`;
  } catch {
    return `${response.status} ${text}`;
  }
}

/** A POST of an SDP body that authorization refuses before the SDP is looked at: status and reason. */
async function refused(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', ...headers }, body: 'v=0\r\n' });
  return `${response.status} ${await response.text()}`;
}

describe('WHIP and WHEP', () => {
  it('publishes and plays with a valid auth_key; refuses missing, tampered and expired ones with the reason', async () => {
    const base = `${server.httpUrl}/whip/live/cam1`;
    expect(await refused(base)).toBe('403 auth_key missing');
    const valid = key('/live/cam1');
    const tampered = valid.replace(/-0-/, '-1-');
    expect(await refused(`${base}?auth_key=${tampered}`)).toBe('403 auth_key invalid: bad hash for /live/cam1');
    expect(await refused(`${server.httpUrl}/whip/live/cam2?auth_key=${valid}`)).toBe('403 auth_key invalid: bad hash for /live/cam2');
    const ts = now() - 1441 * 60;
    const expired = await refused(`${base}?auth_key=${key('/live/cam1', 'secret', ts)}`);
    expect(expired).toBe(`403 auth_key expired at ${new Date((ts + 1440 * 60) * 1000).toISOString().replace('.000Z', 'Z')}`);

    const publisher = await publish(`${base}?auth_key=${valid}`, { video: 'H264' });
    publishers.push(publisher);
    await waitUntil(() => live('cam1') !== undefined, 'live/cam1 live');

    const whep = `${server.httpUrl}/whep/live/cam1`;
    expect(await refused(whep)).toBe('403 auth_key missing');
    expect(await refused(`${whep}?auth_key=${key('/live/cam1', 'wrong')}`)).toBe('403 auth_key invalid: bad hash for /live/cam1');
    const viewer = await view(`${whep}?auth_key=${key('/live/cam1', 'old')}`, { video: ['H264'] }); // secondary key
    viewers.push(viewer);
    await waitUntil(() => viewer.packets.video.length > 10, 'video at the viewer');
  });

  it('takes the auth_key from the Bearer token (OBS) too', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/obs`, { video: 'H264', token: key('/live/obs', 'old') });
    publishers.push(publisher);
    await waitUntil(() => live('obs') !== undefined, 'live/obs live');
  });

  it('applies referer lists to playback', async () => {
    const whep = `${server.httpUrl}/whep/live/cam1?auth_key=${key('/live/cam1')}`;
    expect(await refused(whep, { referer: 'https://www.evil.example/page' })).toBe('403 referer www.evil.example is denied');
    expect(await refused(whep, { referer: 'https://other.example/' })).toBe('403 referer other.example is not allowed');
    // allowed referer (and an empty one, allowed by default): authorization passes, the bad SDP is what fails
    for (const referer of ['https://player.site.example/watch', undefined]) {
      const status = await refused(whep, referer ? { referer } : {});
      expect(status).not.toMatch(/^403/);
      expect(status).toMatch(/^4\d\d /);
    }
  });

  it('applies IP lists (an IPv6-only allow list refuses loopback IPv4)', async () => {
    const viaLocalhost = server.httpUrl.replace('127.0.0.1', 'localhost');
    expect(await refused(`${viaLocalhost}/whip/live/ip`)).toMatch(/^403 client address (127\.0\.0\.1|::1) is not allowed$/);
    expect(await refused(`${viaLocalhost}/whep/live/cam1`)).toMatch(/^403 client address (127\.0\.0\.1|::1) is not allowed$/);
  });
});

describe('CORS', () => {
  it("answers with the domain's allowed origins", async () => {
    const allowed = await fetch(`${server.httpUrl}/healthz`, { headers: { origin: 'https://site.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://site.example');
    const other = await fetch(`${server.httpUrl}/healthz`, { headers: { origin: 'https://other.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // the default domain keeps http.corsOrigin ("*")
    const viaLocalhost = await fetch(`${server.httpUrl.replace('127.0.0.1', 'localhost')}/healthz`, { headers: { origin: 'https://other.example' } });
    expect(viaLocalhost.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('RTMP', () => {
  it('admits a stream key with a valid auth_key and refuses a tampered, expired or missing one', async () => {
    const url = (stream: string, query: string) => `rtmp://127.0.0.1:${server.rtmpPort}/live/${stream}${query}`;
    for (const [stream, query] of [
      ['rtmp-missing', ''],
      ['rtmp-tampered', `?auth_key=${key('/live/other')}`],
      ['rtmp-expired', `?auth_key=${key('/live/rtmp-expired', 'secret', now() - 1500 * 60)}`],
    ] as const) {
      const encoder = rtmpEncoder(url(stream, query));
      encoders.push(encoder);
      const [code] = (await once(encoder, 'exit')) as [number | null];
      expect(code, stream).not.toBe(0);
      expect(live(stream), stream).toBeUndefined();
    }
    const encoder = rtmpEncoder(url('rtmp-ok', `?auth_key=${key('/live/rtmp-ok', 'old')}`));
    encoders.push(encoder);
    await waitUntil(() => live('rtmp-ok') !== undefined, 'live/rtmp-ok live');
  });
});

describe('HLS', () => {
  it('serves the playlist for an auth_key of its file path; segments carry it', async () => {
    await waitUntil(() => live('cam1') !== undefined, 'live/cam1 live');
    const base = `${server.httpUrl}/live/live/cam1.m3u8`;
    const missing = await fetch(base);
    expect(await why(missing)).toBe('403 auth_key missing');
    const whipKey = await fetch(`${base}?auth_key=${key('/live/cam1')}`); // signed for the WHIP path, not the file
    expect(await why(whipKey)).toBe('403 auth_key invalid: bad hash for /live/cam1.m3u8');
    const ts = now() - 2000 * 60;
    const expired = await fetch(`${base}?auth_key=${key('/live/cam1.m3u8', 'secret', ts)}`);
    expect(await why(expired)).toBe(`403 auth_key expired at ${new Date((ts + 1440 * 60) * 1000).toISOString().replace('.000Z', 'Z')}`);

    const authKey = key('/live/cam1.m3u8');
    const response = await fetch(`${base}?auth_key=${authKey}`);
    expect(response.status).toBe(200);
    const playlist = await response.text();
    const segment = playlist.split('\n').find((line) => line.endsWith('.ts') || line.includes('.ts?'));
    expect(segment).toBe(`${segment?.split('?')[0] ?? ''}?auth_key=${authKey}`);
    const ok = await fetch(new URL(segment ?? '', base));
    expect(ok.status).toBe(200);
    expect((await ok.arrayBuffer()).byteLength).toBeGreaterThan(188);
    const bare = await fetch(new URL(segment?.split('?')[0] ?? '', base));
    expect(await why(bare)).toBe('403 auth_key missing');
  });

  it('serves HTTP-FLV for an auth_key of the .flv path only', async () => {
    const base = `${server.httpUrl}/live/live/cam1.flv`;
    expect(await why(await fetch(`${base}?auth_key=${key('/live/cam1.m3u8')}`))).toBe('403 auth_key invalid: bad hash for /live/cam1.flv');
    const abort = new AbortController();
    const response = await fetch(`${base}?auth_key=${key('/live/cam1.flv')}`, { signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/x-flv');
    abort.abort();
  });
});
