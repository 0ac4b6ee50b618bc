// Limits hold exactly under concurrent requests, even with an admission hook that keeps every admitted request
// waiting: the hook below answers only once the expected number of requests are waiting on it, so every admitted
// request overlaps every other. What a waiting request holds is given back when its client goes away meanwhile, or
// when its name is forbidden and resumed meanwhile.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { CHROMIUM_WHEP_OFFER, CHROMIUM_WHIP_OFFER_H264 } from '../fixtures/sdp.js';
import { rtmpEncoder } from '../helpers/encoder.js';
import { startTestServer, waitUntil } from '../helpers/server.js';

const MAX_VIEWERS = 5;
const MAX_PUBLISHERS = 3;

let server: WhipcastServer;
let hook: Server;
/** Requests the hook holds, answered together once `holdUntil` of them are waiting. */
const held: ServerResponse[] = [];
let holdUntil = Infinity;
let hookCalls = 0;

function release(): void {
  for (const response of held.splice(0)) response.end(JSON.stringify({ allow: true }));
}

beforeAll(async () => {
  hook = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      hookCalls++;
      held.push(response);
      if (held.length >= holdUntil) release();
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  server = await startTestServer({
    admission: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/admit`, timeoutMs: 20_000 },
    limits: { maxViewersPerStream: MAX_VIEWERS, maxPublishers: MAX_PUBLISHERS },
  });
});

afterAll(async () => {
  release();
  server?.sessions.closeAll('test over');
  await server?.close();
  hook.close();
});

const post = (path: string, offer: string): Promise<Response> => fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });

describe('limits under concurrency', () => {
  it(`admits exactly ${MAX_PUBLISHERS} of 10 concurrent publishers against maxPublishers: ${MAX_PUBLISHERS}`, async () => {
    hookCalls = 0;
    holdUntil = MAX_PUBLISHERS;
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => post(`/whip/live/p${i}`, CHROMIUM_WHIP_OFFER_H264)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX_PUBLISHERS);
    expect(statuses.filter((s) => s === 503)).toHaveLength(10 - MAX_PUBLISHERS);
    expect(hookCalls).toBe(MAX_PUBLISHERS); // the others were refused before the hook was asked
    expect(server.registry.list()).toHaveLength(MAX_PUBLISHERS);
  });

  it(`admits exactly ${MAX_VIEWERS} of 20 concurrent viewers against maxViewersPerStream: ${MAX_VIEWERS}`, async () => {
    const stream = server.registry.list()[0];
    if (!stream) throw new Error('no live stream');
    hookCalls = 0;
    holdUntil = MAX_VIEWERS;
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(`/whep/${stream.app}/${stream.stream}`, CHROMIUM_WHEP_OFFER)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX_VIEWERS);
    expect(statuses.filter((s) => s === 503)).toHaveLength(20 - MAX_VIEWERS);
    expect(hookCalls).toBe(MAX_VIEWERS);
    expect(stream.room.viewerCount).toBe(MAX_VIEWERS);

    // A seat is given back when its viewer leaves: one DELETE, then exactly one more viewer fits.
    const location = responses.find((r) => r.status === 201)?.headers.get('location') ?? '';
    expect((await fetch(new URL(location, server.httpUrl), { method: 'DELETE' })).status).toBe(200);
    await waitUntil(() => stream.room.viewerCount === MAX_VIEWERS - 1, 'the viewer to leave');
    holdUntil = 1;
    const again = await Promise.all([post(`/whep/${stream.app}/${stream.stream}`, CHROMIUM_WHEP_OFFER), post(`/whep/${stream.app}/${stream.stream}`, CHROMIUM_WHEP_OFFER)]);
    expect(again.map((r) => r.status).sort()).toEqual([201, 503]);
  });
});

describe('a publish waiting on the admission hook', () => {
  beforeAll(async () => {
    server.registry.closeAll('the limit tests are over');
    await waitUntil(() => server.registry.list().length === 0, 'the streams of the limit tests to end');
  });

  it('gives its name back when the RTMP encoder leaves meanwhile', async () => {
    hookCalls = 0;
    holdUntil = Infinity; // hold until released below
    const encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/live/gone`);
    await waitUntil(() => hookCalls === 1, 'the RTMP publish to reach the hook');
    const closed = new Promise((resolve) => encoder.once('exit', resolve));
    encoder.kill('SIGKILL');
    await closed;
    await waitUntil(() => server.rtmp.connectionCount === 0, 'the encoder connection to close');
    release();
    holdUntil = 1;
    await waitUntil(async () => (await post('/whip/live/gone', CHROMIUM_WHIP_OFFER_H264)).status !== 409, 'the name to be free again');
  });

  it('is refused if its name was forbidden meanwhile, and admitted if the forbid was lifted meanwhile', async () => {
    holdUntil = Infinity;
    hookCalls = 0;
    const forbidden = post('/whip/live/held', CHROMIUM_WHIP_OFFER_H264);
    await waitUntil(() => hookCalls === 1, 'the publish to reach the hook');
    server.registry.forbid('live', 'held', new Date(Date.now() + 60_000));
    release();
    expect((await forbidden).status).toBe(403);

    server.registry.resume('live', 'held');
    const resumed = post('/whip/live/held', CHROMIUM_WHIP_OFFER_H264);
    await waitUntil(() => hookCalls === 2, 'the second publish to reach the hook');
    server.registry.forbid('live', 'held', new Date(Date.now() + 60_000));
    server.registry.resume('live', 'held');
    release();
    expect((await resumed).status).toBe(201);
  });
});
