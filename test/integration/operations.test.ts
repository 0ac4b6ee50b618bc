// Operations over real requests: the admission hook (allow, deny with its reason, timeout → default), signed
// callbacks (publish, play, stop_play, unpublish; retried after 500s), limits (503 publishers/viewers, 429 sessions
// per IP with Retry-After) and HTTPS (a self-signed certificate made at test time).
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

const run = promisify(execFile);

interface Hit {
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
}

/** A local HTTP receiver: records each POST and lets `answer` respond. */
async function receiver(answer: (hit: Hit, response: ServerResponse, hits: Hit[]) => void): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const hit = { headers: request.headers, body, json: JSON.parse(body || '{}') as Record<string, unknown> };
      hits.push(hit);
      answer(hit, response, hits);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const json = (response: ServerResponse, value: unknown): void => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify(value));
};

/** Checks X-Whipcast-Signature as a receiver would: HMAC-SHA256(secret, "<timestamp>.<body>"). */
function validSignature(hit: Hit, secret: string): boolean {
  const timestamp = String(hit.headers['x-whipcast-timestamp']);
  if (!/^\d+$/.test(timestamp) || Math.abs(Number(timestamp) - Date.now() / 1000) > 300) return false;
  return hit.headers['x-whipcast-signature'] === `sha256=${createHmac('sha256', secret).update(`${timestamp}.${hit.body}`).digest('hex')}`;
}

/** A POST that admission refuses before the SDP is looked at: status, reason and headers. */
async function refused(url: string): Promise<{ text: string; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  return { text: `${response.status} ${await response.text()}`, headers: response.headers };
}

const clients: (Publisher | Viewer)[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('admission hook', () => {
  let server: WhipcastServer;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const SECRET = 'hook-secret';

  beforeAll(async () => {
    hook = await receiver((hit, response) => {
      const stream = String(hit.json.stream);
      if (stream.startsWith('allowed')) return json(response, { allow: true });
      if (stream === 'denied') return json(response, { allow: false, reason: 'no entry for denied' });
      if (stream === 'garbage') return json(response, { yes: 'please' });
      if (stream === 'slow') return void setTimeout(() => json(response, { allow: true }), 4000);
      json(response, { allow: false });
    });
    // A timeout that a hook answering at once meets even on a loaded machine, well below the slow hook's 4 s.
    server = await startTestServer({ admission: { url: hook.url, timeoutMs: 1500, default: 'deny' }, callbacks: { secret: SECRET } });
  });
  afterAll(async () => {
    await server?.close();
    await hook?.close();
  });

  it('admits what the hook allows, with a signed request describing it', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/allowed?x=1`, { audio: false });
    clients.push(publisher);
    const viewer = await view(`${server.httpUrl}/whep/live/allowed`);
    clients.push(viewer);
    const asked = hook.hits.filter((h) => h.json.stream === 'allowed');
    expect(asked.map((h) => h.json.action)).toEqual(['publish', 'play']);
    expect(asked[0]?.json).toMatchObject({ action: 'publish', app: 'live', stream: 'allowed', host: '127.0.0.1', ip: '127.0.0.1', protocol: 'whip', query: { x: '1' } });
    expect(asked[1]?.json).toMatchObject({ action: 'play', protocol: 'whep' });
    for (const hit of asked) expect(validSignature(hit, SECRET)).toBe(true);
  });

  it('refuses with 403 and the hook\'s reason', async () => {
    expect((await refused(`${server.httpUrl}/whip/live/denied`)).text).toBe('403 no entry for denied');
    expect((await refused(`${server.httpUrl}/whip/live/other`)).text).toBe('403 publish of live/other denied by the admission hook');
    expect(server.registry.get('live', 'denied')).toBeUndefined();
  });

  it('applies the default (deny) on a timeout or an invalid answer', async () => {
    const started = Date.now();
    expect((await refused(`${server.httpUrl}/whip/live/slow`)).text).toBe('403 publish of live/slow refused: admission hook timed out after 1500 ms');
    expect(Date.now() - started).toBeLessThan(4000); // the refusal did not wait for the hook's answer
    expect((await refused(`${server.httpUrl}/whip/live/garbage`)).text).toMatch(/^403 publish of live\/garbage refused: admission hook answered an invalid body/);
  });

  it('applies default allow when so configured and the hook is unreachable', async () => {
    const dead = await receiver(() => undefined);
    await dead.close();
    const open = await startTestServer({ admission: { url: dead.url, timeoutMs: 300, default: 'allow' } });
    try {
      const publisher = await publish(`${open.httpUrl}/whip/live/anyway`, { audio: false });
      clients.push(publisher);
      expect(open.registry.get('live', 'anyway')).toBeDefined();
    } finally {
      await open.close();
    }
  });
});

describe('callbacks', () => {
  let server: WhipcastServer;
  let sink: Awaited<ReturnType<typeof receiver>>;
  const SECRET = 'cb-secret';

  beforeAll(async () => {
    // The publish event is refused twice (500), then accepted: it must arrive 3 times.
    sink = await receiver((hit, response, hits) => {
      const publishes = hits.filter((h) => h.json.event === 'publish').length;
      response.statusCode = hit.json.event === 'publish' && publishes <= 2 ? 500 : 200;
      response.end();
    });
    server = await startTestServer({ callbacks: { url: sink.url, secret: SECRET, retryDelaysMs: [100, 200, 400] } });
  });
  afterAll(async () => {
    await server?.close();
    await sink?.close();
  });

  it('POSTs signed publish, play, stop_play and unpublish events, retrying refused ones', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/cb`, { audio: false });
    clients.push(publisher);
    await waitUntil(() => sink.hits.filter((h) => h.json.event === 'publish').length === 3, 'the publish event 3 times (500, 500, 200)');
    const viewer = await view(`${server.httpUrl}/whep/live/cb`);
    clients.push(viewer);
    await waitUntil(() => sink.hits.some((h) => h.json.event === 'play'), 'the play event');
    const session = new URL(viewer.session.location).pathname;
    await fetch(`${server.httpUrl}${session}`, { method: 'DELETE' });
    await waitUntil(() => sink.hits.some((h) => h.json.event === 'stop_play'), 'the stop_play event');
    await fetch(publisher.session.location, { method: 'DELETE' });
    await waitUntil(() => sink.hits.some((h) => h.json.event === 'unpublish'), 'the unpublish event');

    for (const hit of sink.hits) expect(validSignature(hit, SECRET), hit.body).toBe(true);
    const byEvent = (event: string) => sink.hits.find((h) => h.json.event === event)?.json;
    const publisherSession = publisher.session.location.split('/').at(-1);
    const viewerSession = session.split('/').at(-1);
    expect(byEvent('publish')).toMatchObject({ app: 'live', stream: 'cb', domain: '127.0.0.1', protocol: 'whip', ip: '127.0.0.1', sessionId: publisherSession });
    expect(byEvent('play')).toMatchObject({ app: 'live', stream: 'cb', protocol: 'whep', ip: '127.0.0.1', sessionId: viewerSession });
    expect(byEvent('stop_play')).toMatchObject({ sessionId: viewerSession, reason: 'DELETE by client' });
    expect(byEvent('unpublish')).toMatchObject({ app: 'live', stream: 'cb', sessionId: publisherSession });
    expect(typeof byEvent('unpublish')?.time).toBe('string');
    expect(sink.hits.filter((h) => h.json.event !== 'publish').map((h) => h.json.event)).toEqual(['play', 'stop_play', 'unpublish']);
  });
});

describe('limits', () => {
  let server: WhipcastServer;

  beforeAll(async () => {
    server = await startTestServer({ limits: { maxPublishers: 1, maxViewersPerStream: 1, sessionsPerIpPerMinute: 4 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses over the publisher and viewer limits with 503, then sessions over the rate with 429', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/one`, { audio: false }); // session 1
    clients.push(publisher);
    expect((await refused(`${server.httpUrl}/whip/live/two`)).text).toBe('503 server is at its publisher limit (1)'); // 2
    const viewer = await view(`${server.httpUrl}/whep/live/one`); // 3
    clients.push(viewer);
    expect((await refused(`${server.httpUrl}/whep/live/one`)).text).toBe('503 stream live/one is at its viewer limit (1)'); // 4
    const limited = await refused(`${server.httpUrl}/whep/live/one`); // 5
    expect(limited.text).toBe('429 too many sessions from 127.0.0.1: limit 4 per minute');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('HTTPS', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whipcast-tls-'));
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves /healthz over TLS from the configured certificate', async () => {
    const server = await startTestServer({ http: { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } } });
    try {
      expect(server.httpUrl).toMatch(/^https:\/\//);
      const { status, peerCertificate } = await new Promise<{ status: number; peerCertificate: string }>((resolve, reject) => {
        const request = httpsRequest(`${server.httpUrl}/healthz`, { rejectUnauthorized: false }, (response) => {
          response.resume();
          resolve({ status: response.statusCode ?? 0, peerCertificate: response.socket && 'getPeerCertificate' in response.socket ? String((response.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN) : '' });
        });
        request.on('error', reject);
        request.end();
      });
      expect(status).toBe(200);
      expect(peerCertificate).toBe('localhost');
    } finally {
      await server.close();
    }
  });

  it('refuses to start with a missing or invalid certificate, naming the file', async () => {
    await expect(startTestServer({ http: { tls: { cert: join(dir, 'nope.pem'), key: join(dir, 'key.pem') } } })).rejects.toThrow(`cannot read http.tls.cert ${join(dir, 'nope.pem')}`);
    await writeFile(join(dir, 'bad.pem'), 'not a certificate');
    await expect(startTestServer({ http: { tls: { cert: join(dir, 'bad.pem'), key: join(dir, 'key.pem') } } })).rejects.toThrow(`http.tls.cert ${join(dir, 'bad.pem')} holds no PEM certificate`);
  });
});
