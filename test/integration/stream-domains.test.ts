// The domain model: a stream belongs to its ingest domain, plays only on the streaming domains associated with
// that ingest domain, and its latency mode on playback is the streaming domain's. Requests carry their own Host
// header (all to 127.0.0.1), as a reverse proxy or DNS would deliver them.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { CHROMIUM_WHEP_OFFER, CHROMIUM_WHIP_OFFER_H264 } from '../fixtures/sdp.js';
import { startTestServer, waitUntil } from '../helpers/server.js';

let server: WhipcastServer;
const sessions: { host: string; location: string }[] = [];

/** A request to the server with the given Host header; resolves with the status, body and Location. */
function send(method: string, host: string, path: string, body?: string): Promise<{ status: number; text: string; location: string | undefined }> {
  const url = new URL(path, server.httpUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { host, ...(body === undefined ? {} : { 'content-type': 'application/sdp' }) } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function post(kind: 'whip' | 'whep', host: string, path: string): Promise<{ status: number; text: string }> {
  const response = await send('POST', host, `/${kind}/${path}`, kind === 'whip' ? CHROMIUM_WHIP_OFFER_H264 : CHROMIUM_WHEP_OFFER);
  if (response.location) sessions.push({ host, location: response.location });
  return response;
}

beforeAll(async () => {
  server = await startTestServer({
    domains: [
      { host: 'push-a.example', type: 'ingest' },
      { host: 'push-b.example', type: 'ingest' },
      { host: 'play-a.example', type: 'streaming', ingestDomain: 'push-a.example' },
      { host: 'rt-a.example', type: 'streaming', ingestDomain: 'push-a.example', latencyMode: 'half-second' },
      { host: 'play-b.example', type: 'streaming', ingestDomain: 'push-b.example' },
    ],
  });
});

afterAll(async () => {
  for (const s of sessions.reverse()) await send('DELETE', s.host, s.location);
  await waitUntil(() => server.sessions.size === 0, 'sessions to end');
  await server?.close();
});

describe('domains', () => {
  it('keeps streams of the same name on two ingest domains apart (two streams, no 409)', async () => {
    expect((await post('whip', 'push-a.example', 'live/x')).status).toBe(201);
    expect((await post('whip', 'push-b.example', 'live/x')).status).toBe(201);
    expect(server.registry.list().filter((s) => s.app === 'live' && s.stream === 'x').map((s) => s.ingestDomain).sort()).toEqual(['push-a.example', 'push-b.example']);
    // Within one ingest domain the name is still taken.
    expect((await post('whip', 'push-a.example', 'live/x')).status).toBe(409);
  });

  it("plays a stream on its ingest domain's streaming domains only: elsewhere it is not there (404)", async () => {
    expect((await post('whip', 'push-a.example', 'live/only-a')).status).toBe(201);
    expect((await post('whep', 'play-a.example', 'live/only-a')).status).toBe(201);
    expect((await post('whep', 'rt-a.example', 'live/only-a')).status).toBe(201);
    expect(await post('whep', 'play-b.example', 'live/only-a')).toMatchObject({ status: 404, text: 'stream push-b.example/live/only-a is not live' });
    expect((await post('whep', 'localhost', 'live/only-a')).status).toBe(404); // the default domain has no such stream
    expect((await post('whep', 'play-b.example', 'live/x')).status).toBe(201); // push-b's own live/x
    // An ingest-only domain serves no playback.
    expect((await post('whep', 'push-a.example', 'live/only-a')).status).toBe(403);
  });

  it("applies the streaming domain's latency mode: the half-second one is WebRTC only", async () => {
    const flv = await send('GET', 'rt-a.example', '/live/live/only-a.flv');
    expect(flv.status).toBe(403);
    expect(flv.text).toMatch(/half-second \(WebRTC-only\) domain/);
  });

  it('treats every host as one default domain when no domains are configured', async () => {
    const plain = await startTestServer();
    try {
      const publish = await fetch(`${plain.httpUrl}/whip/live/d`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: CHROMIUM_WHIP_OFFER_H264 });
      expect(publish.status).toBe(201);
      expect(plain.registry.get('live', 'd')?.ingestDomain).toBeUndefined();
      const viaLocalhost = await fetch(`${plain.httpUrl.replace('127.0.0.1', 'localhost')}/whep/live/d`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: CHROMIUM_WHEP_OFFER });
      expect(viaLocalhost.status).toBe(201);
      const second = await fetch(`${plain.httpUrl.replace('127.0.0.1', 'localhost')}/whip/live/d`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: CHROMIUM_WHIP_OFFER_H264 });
      expect(second.status).toBe(409);
    } finally {
      await plain.close();
    }
  });
});
