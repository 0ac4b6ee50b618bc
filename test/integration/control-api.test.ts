// The control API over real requests: the URL generator's signed URLs are accepted where the domain requires
// signing (WHIP, WHEP, HTTP-FLV, RTMP), kicking a viewer closes its WHEP session, the OpenAPI document lists
// the /api routes, and domain changes apply to the next requests. No admin token is configured: the API answers loopback clients (the tests).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { rtmpEncoder } from '../helpers/encoder.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
const clients: (Publisher | Viewer)[] = [];
const encoders: ChildProcess[] = [];

beforeAll(async () => {
  server = await startTestServer({ auth: { primaryKey: 'primary-key', secondaryKey: 'old-key' } });
});
afterAll(async () => {
  for (const encoder of encoders) encoder.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.close();
});

const live = (stream: string) => server.registry.get('live', stream);
const api = (path: string, init: RequestInit = {}) => fetch(`${server.httpUrl}${path}`, { ...init, headers: init.body ? { 'content-type': 'application/json' } : {} });

interface Urls {
  whip: string;
  rtmp: { url: string; obsServer: string; obsStreamKey: string };
  whep: string;
  hls: string;
  flv: string;
  signed: boolean;
  expiresAt: string | null;
}

async function urls(body: Record<string, unknown>): Promise<Urls> {
  const response = await api('/api/urls', { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as Urls;
}

describe('URL generator', () => {
  it('returns signed URLs the server accepts', async () => {
    const before = Date.now();
    const generated = await urls({ app: 'live', stream: 'signed', validityMinutes: 10 });
    expect(generated.signed).toBe(true);
    expect(Date.parse(generated.expiresAt ?? '') - before).toBeGreaterThan(9.9 * 60_000);
    expect(Date.parse(generated.expiresAt ?? '') - before).toBeLessThan(10.1 * 60_000);
    expect(generated.whip).toMatch(new RegExp(`^${server.httpUrl}/whip/live/signed\\?auth_key=\\d+-[0-9a-f]+-0-[0-9a-f]{32}$`));
    expect(generated.hls).toMatch(new RegExp(`^${server.httpUrl}/live/live/signed\\.m3u8\\?auth_key=`));
    expect(generated.rtmp.obsServer).toBe(`rtmp://127.0.0.1:${server.rtmpPort}/live`);
    expect(generated.rtmp.obsStreamKey).toMatch(/^signed\?auth_key=/);
    expect(generated.rtmp.url).toBe(`${generated.rtmp.obsServer}/${generated.rtmp.obsStreamKey}`);

    // The domain requires signing: unsigned is refused, the generated URLs are accepted.
    await expect(publish(`${server.httpUrl}/whip/live/signed`)).rejects.toThrow(/→ 403: auth_key missing/);
    const publisher = await publish(generated.whip);
    clients.push(publisher);
    await waitUntil(() => live('signed') !== undefined, 'stream live');
    const viewer = await view(generated.whep);
    clients.push(viewer);
    await waitUntil(() => viewer.packets.video.length > 10, 'media at the viewer');
    const flv = new AbortController();
    const response = await fetch(generated.flv, { signal: flv.signal });
    expect(response.status).toBe(200);
    flv.abort();
    expect((await fetch(generated.flv.replace(/auth_key=.*/, ''))).status).toBe(403);

    const rtmp = (await urls({ app: 'live', stream: 'signed-rtmp' })).rtmp;
    const encoder = rtmpEncoder(rtmp.url);
    encoders.push(encoder);
    await waitUntil(() => live('signed-rtmp') !== undefined, 'RTMP stream live', 30_000);
  });

  it('validates its input', async () => {
    expect((await api('/api/urls', { method: 'POST', body: JSON.stringify({ app: 'live' }) })).status).toBe(400);
    expect((await api('/api/urls', { method: 'POST', body: JSON.stringify({ app: 'live', stream: 'a/b' }) })).status).toBe(400);
  });
});

describe('sessions', () => {
  it('kicks a viewer by closing its WHEP session', async () => {
    const { whip, whep } = await urls({ app: 'live', stream: 'kickme' });
    const publisher = await publish(whip);
    clients.push(publisher);
    await waitUntil(() => live('kickme') !== undefined, 'stream live');
    const viewer = await view(whep);
    clients.push(viewer);
    await waitUntil(() => live('kickme')?.room.viewerCount === 1, 'viewer joined');
    const id = new URL(viewer.session.location).pathname.split('/').at(-1) ?? '';
    const { sessions } = (await (await api('/api/sessions')).json()) as { sessions: { id: string; kind: string; stream: string }[] };
    expect(sessions).toContainEqual(expect.objectContaining({ id, kind: 'whep', stream: 'kickme' }));

    expect((await api(`/api/sessions/${id}`, { method: 'DELETE' })).status).toBe(204);
    await waitUntil(() => live('kickme')?.room.viewerCount === 0, 'viewer gone');
    expect((await api(`/api/sessions/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect(live('kickme')).toBeDefined(); // the publisher stays
  });
});

describe('OpenAPI', () => {
  it('documents the /api routes', async () => {
    const response = await api('/api/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toMatch(/^3\./);
    const paths = Object.keys(document.paths);
    for (const path of ['/api/streams', '/api/streams/{app}/{stream}/kick', '/api/streams/{app}/{stream}/forbid', '/api/forbidden', '/api/sessions/{id}', '/api/urls', '/api/relays']) {
      expect(paths, path).toContain(path);
    }
    expect(Object.keys(document.paths['/api/streams/{app}/{stream}/forbid'] ?? {})).toEqual(expect.arrayContaining(['post', 'delete']));
    expect(paths.filter((p) => !p.startsWith('/api/'))).toEqual([]);
    expect(paths).not.toContain('/api/openapi.json');
  });
});

describe('domains', () => {
  it('adds, changes and removes a domain without a restart', async () => {
    const before = await urls({ app: 'live', stream: 'domain-a' }); // signed with the default domain's key
    const put = await api('/api/domains/127.0.0.1', { method: 'PUT', body: JSON.stringify({ auth: { primaryKey: 'runtime-key' } }) });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ host: '127.0.0.1', latencyMode: 'sub-second', auth: { primaryKey: '***' } });
    const { domains } = (await (await api('/api/domains')).json()) as { domains: { host: string }[] };
    expect(domains.map((d) => d.host)).toEqual(['127.0.0.1']);

    // Requests to 127.0.0.1 now need the new key.
    await expect(publish(before.whip)).rejects.toThrow(/→ 403: auth_key invalid: bad hash/);
    const after = await urls({ app: 'live', stream: 'domain-a' });
    const publisher = await publish(after.whip);
    clients.push(publisher);
    await waitUntil(() => live('domain-a') !== undefined, 'stream live');

    expect((await api('/api/domains/127.0.0.1', { method: 'PUT', body: JSON.stringify({ ip: { allow: ['not-an-address'] } }) })).status).toBe(400);
    expect((await api('/api/domains/127.0.0.1', { method: 'PUT', body: JSON.stringify({ type: 'streaming', ingestDomain: 'nowhere.example' }) })).status).toBe(400);

    // Removed: back to the default domain and its key.
    expect((await api('/api/domains/127.0.0.1', { method: 'DELETE' })).status).toBe(204);
    expect((await api('/api/domains/127.0.0.1', { method: 'DELETE' })).status).toBe(404);
    await expect(publish((await urls({ app: 'live', stream: 'domain-b' })).whip.replace(/auth_key=.*/, ''))).rejects.toThrow(/→ 403: auth_key missing/);
    const again = await publish((await urls({ app: 'live', stream: 'domain-b' })).whip);
    clients.push(again);
    await waitUntil(() => live('domain-b') !== undefined, 'stream live on the default domain');
  });
});
