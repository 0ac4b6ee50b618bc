// Everything a client can get wrong gets a specific status and a reason, and leaves nothing behind; clients that
// vanish (no DELETE) are detected and freed.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { CHROMIUM_WHIP_OFFER_H264 } from '../fixtures/sdp.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, type Publisher } from '../helpers/werift.js';

let server: WhipcastServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startTestServer({
    http: { maxSdpBytes: 16384 },
    auth: { publishToken: 'secret-publish' },
    rtc: { iceConnectTimeoutMs: 1500, inactivityTimeoutMs: 2000 },
    continuity: { apps: { brief: 1 } },
  });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.close();
});

const auth = { authorization: 'Bearer secret-publish' };

async function post(path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/sdp', ...auth }): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${server.httpUrl}${path}`, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function transports(): Promise<number> {
  return (await server.sfu.dump()).reduce((sum, w) => sum + w.webRtcTransports, 0);
}

/** A werift peer in its own process (test/helpers/peer-process.mjs), to be SIGKILLed like a dying client. */
async function peerProcess(mode: 'whip' | 'whep', endpoint: string, token?: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('../helpers/peer-process.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, mode, endpoint, ...(token ? [token] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitUntil(() => output.includes('connected') || child.exitCode !== null, `${mode} process to connect`);
  if (!output.includes('connected')) throw new Error(`${mode} process exited with ${child.exitCode}`);
  return child;
}

describe('refusals', () => {
  it('415 for a wrong content type, on POST and PATCH', async () => {
    const response = await post('/whip/live/ct', CHROMIUM_WHIP_OFFER_H264, { 'content-type': 'application/json', ...auth });
    expect(response.status).toBe(415);
    expect(response.text).toBe('unsupported content type: expected application/sdp');
    const patch = await fetch(`${server.httpUrl}/whip/live/ct/00000000-0000-0000-0000-000000000000`, { method: 'PATCH', headers: { 'content-type': 'application/sdp' }, body: 'a=ice-ufrag:x' });
    expect(patch.status).toBe(415);
  });

  it('400 for an empty or malformed offer, 413 for an oversize one', async () => {
    expect(await post('/whip/live/bad', '')).toMatchObject({ status: 400, text: 'empty SDP offer' });
    expect(await post('/whip/live/bad', 'hello world')).toMatchObject({ status: 400, text: 'malformed SDP: it must start with "v=0"' });
    const noIce = CHROMIUM_WHIP_OFFER_H264.replace(/a=ice-ufrag:.*\r\n/g, '');
    expect(await post('/whip/live/bad', noIce)).toMatchObject({ status: 400, text: 'SDP offer has no a=ice-ufrag/a=ice-pwd' });
    const noFingerprint = CHROMIUM_WHIP_OFFER_H264.replace(/a=fingerprint:.*\r\n/g, '');
    expect(await post('/whip/live/bad', noFingerprint)).toMatchObject({ status: 400, text: 'SDP offer has no a=fingerprint (DTLS is required)' });
    const huge = CHROMIUM_WHIP_OFFER_H264 + `a=x-padding:${'x'.repeat(20000)}\r\n`;
    const oversize = await post('/whip/live/bad', huge);
    expect(oversize.status).toBe(413);
    expect(oversize.text).toBe('request body too large (limit 16384 bytes)');
    expect(server.registry.list()).toHaveLength(0);
  });

  it('400 naming the offered codecs when none is supported', async () => {
    const offer = (await import('../fixtures/sdp.js')).CHROMIUM_VIDEO_ONLY_OFFER
      .replace(/a=rtpmap:(\d+) (VP8|VP9|H264|AV1)\//g, 'a=rtpmap:$1 X$2/');
    const response = await post('/whip/live/nocodec', offer);
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/^no supported codec offered \(offered: .*XVP8.*; supported: opus, VP8, VP9, H264 packetization-mode=1\)$/);
    expect(await transports()).toBe(0);
  });

  it('400 for an invalid stream name, 404 for unknown sessions and offline streams', async () => {
    expect((await post('/whip/live/bad%20name', CHROMIUM_WHIP_OFFER_H264)).status).toBe(400);
    for (const method of ['PATCH', 'DELETE']) {
      const response = await fetch(`${server.httpUrl}/whip/live/x/00000000-0000-0000-0000-000000000000`, { method, headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: method === 'PATCH' ? 'a=ice-ufrag:x\r\n' : undefined });
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('no WHIP session 00000000-0000-0000-0000-000000000000');
    }
    expect(await post('/whep/live/offline', CHROMIUM_WHIP_OFFER_H264, { 'content-type': 'application/sdp' })).toMatchObject({ status: 404, text: 'stream live/offline is not live' });
  });

  it('401 without the publish token, 403 with a wrong one', async () => {
    expect(await post('/whip/live/token', CHROMIUM_WHIP_OFFER_H264, { 'content-type': 'application/sdp' })).toMatchObject({ status: 401, text: 'publish requires Authorization: Bearer <token>' });
    expect(await post('/whip/live/token', CHROMIUM_WHIP_OFFER_H264, { 'content-type': 'application/sdp', authorization: 'Bearer nope' })).toMatchObject({ status: 403, text: 'invalid publish token' });
  });
});

describe('sessions', () => {
  let publisher: Publisher;
  beforeAll(async () => {
    publisher = await publish(`${server.httpUrl}/whip/live/sessions`, { token: 'secret-publish', audio: false });
    await publisher.connected;
  });
  afterAll(async () => publisher?.close());

  it('409 for a second publisher on a live name', async () => {
    const second = await post('/whip/live/sessions', CHROMIUM_WHIP_OFFER_H264);
    expect(second).toMatchObject({ status: 409, text: 'stream live/sessions is already being published' });
  });

  it('PATCH: trickle candidates → 204, a wrong If-Match → 412, new ICE credentials → 200 with a restart fragment and a new ETag', async () => {
    const location = publisher.session.location;
    const sdpfrag = { 'content-type': 'application/trickle-ice-sdpfrag' };
    const ufrag = /a=ice-ufrag:(\S+)/.exec(publisher.pc.localDescription?.sdp ?? '')?.[1] ?? '';
    const trickle = await fetch(location, { method: 'PATCH', headers: sdpfrag, body: `a=ice-ufrag:${ufrag}\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n` });
    expect(trickle.status).toBe(204);
    const stale = await fetch(location, { method: 'PATCH', headers: { ...sdpfrag, 'if-match': '"stale"' }, body: `a=ice-ufrag:${ufrag}\r\n` });
    expect(stale.status).toBe(412);
    const restart = await fetch(location, { method: 'PATCH', headers: { ...sdpfrag, 'if-match': '*' }, body: 'a=ice-ufrag:newufrag\r\na=ice-pwd:newpasswordnewpasswordxx\r\n' });
    expect(restart.status).toBe(200);
    expect(restart.headers.get('content-type')).toBe('application/trickle-ice-sdpfrag');
    expect(restart.headers.get('etag')).not.toBe(publisher.session.etag);
    const fragment = await restart.text();
    expect(fragment).toMatch(/a=ice-ufrag:\S+/);
    expect(fragment).not.toContain(`a=ice-ufrag:${/a=ice-ufrag:(\S+)/.exec(publisher.session.answer)?.[1]}\r\n`);
    expect(fragment).toMatch(/a=candidate:.* 127\.0\.0\.1 \d+ typ host/);
  });

  it('OPTIONS answers 204 with CORS and Accept-Post', async () => {
    const response = await fetch(`${server.httpUrl}/whip/live/sessions`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('accept-post')).toBe('application/sdp');
    const preflight = await fetch(`${server.httpUrl}/whip/live/sessions`, { method: 'OPTIONS', headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('clients that vanish', () => {
  it('an offer whose ICE never connects is freed after the ICE timeout', async () => {
    const before = await transports();
    const response = await post('/whip/brief/noice', CHROMIUM_WHIP_OFFER_H264);
    expect(response.status).toBe(201);
    expect(await transports()).toBe(before + 1);
    await waitUntil(async () => (await transports()) === before, 'ICE timeout to free the transport');
    // The stream then waits for a new publisher for its app's 1 s grace, and ends.
    await waitUntil(() => !server.registry.list().some((s) => s.stream === 'noice'), 'the stream to end after the grace');
    // The session ended by itself: a late DELETE of it still answers 200 (idempotent), as clients expect.
    expect((await fetch(new URL(response.headers.get('location') ?? '', server.httpUrl), { method: 'DELETE' })).status).toBe(200);
  });

  it('a publisher killed without DELETE takes the stream offline, its room closing after the grace; a killed viewer is freed', async () => {
    const endpoint = `${server.httpUrl}/whip/brief/killed`;
    const publisherProcess = await peerProcess('whip', endpoint, 'secret-publish');
    await waitUntil(() => server.registry.list().some((s) => s.stream === 'killed'), 'stream live');
    const viewerProcess = await peerProcess('whep', `${server.httpUrl}/whep/brief/killed`);
    const room = server.registry.list().find((s) => s.stream === 'killed')?.room;
    expect(room?.viewerCount).toBe(1);

    viewerProcess.kill('SIGKILL');
    await waitUntil(() => room?.viewerCount === 0, 'vanished viewer to be freed');
    expect(server.registry.list().some((s) => s.stream === 'killed')).toBe(true);

    publisherProcess.kill('SIGKILL');
    await once(publisherProcess, 'exit');
    await waitUntil(() => !server.registry.list().some((s) => s.stream === 'killed'), 'vanished publisher to take the stream offline');
    // The room waits for a new publisher for the app's 1 s grace, then closes.
    await waitUntil(() => room?.isClosed === true, 'the room to close after the grace');
    expect(server.registry.waitingStreams().some((w) => w.stream === 'killed')).toBe(false);
  });

  it('leaves no transport and no session behind once every client is gone', async () => {
    await waitUntil(async () => (await transports()) === 0 && server.sessions.size === 0, 'every transport released');
    // Streams whose publisher left may still wait out their grace; none has a publisher.
    expect(server.registry.list().filter((s) => !s.room.isWaiting)).toHaveLength(0);
  });
});
