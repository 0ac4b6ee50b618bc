// Viewers cost no listeners on shared emitters: 50 WHEP sessions on one stream (with play/stop_play callbacks on)
// leave the session store's listener counts as they were, and 30 HTTP-FLV readers add none to the stream's feed;
// each reader still hears of the stream's end (its response ends). No MaxListenersExceededWarning either: the
// server runs in this process, so its warnings are this process's.
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlvFeed } from '../../src/media/flv/FlvFeed.js';
import type { WhipcastServer } from '../../src/server.js';
import { CHROME_WHEP_OFFER } from '../fixtures/sdp.js';
import { rtmpEncoder } from '../helpers/encoder.js';
import { startTestServer, waitUntil } from '../helpers/server.js';

const VIEWERS = 50;
const FLV_READERS = 30;

let server: WhipcastServer;
let callbacks: Server;
const events: { event: string; sessionId: string | null }[] = [];
const warnings: Error[] = [];
const onWarning = (warning: Error) => {
  if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
};
let encoder: ChildProcess | undefined;

beforeAll(async () => {
  process.on('warning', onWarning);
  callbacks = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      events.push(JSON.parse(body) as { event: string; sessionId: string | null });
      response.end();
    });
  });
  await new Promise<void>((resolve) => callbacks.listen(0, '127.0.0.1', resolve));
  server = await startTestServer({ callbacks: { url: `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}/events` } });
});
afterAll(async () => {
  process.off('warning', onWarning);
  encoder?.kill('SIGKILL');
  await server?.close();
  callbacks?.closeAllConnections();
  await new Promise((resolve) => callbacks?.close(resolve));
});

const times = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);

async function readToEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
}

describe('listeners per viewer', () => {
  it('adds none to the session store or the feed, however many viewers and readers', async () => {
    encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/live/crowd`);
    await waitUntil(() => server.registry.get('live', 'crowd') !== undefined, 'RTMP stream live', 30_000);
    const live = server.registry.get('live', 'crowd');
    const feed = live?.feed;
    expect(feed).toBeInstanceOf(FlvFeed);
    const feedListeners = () => (feed as FlvFeed).listenerCount('end');
    const storeListeners = () => [server.sessions.listenerCount('open'), server.sessions.listenerCount('close')];
    const before = { store: storeListeners(), feed: feedListeners() };

    // WHEP session resources: each is a play (callback), none adds a listener to the store.
    const locations = await Promise.all(
      times(VIEWERS, async () => {
        const response = await fetch(`${server.httpUrl}/whep/live/crowd`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: CHROME_WHEP_OFFER });
        expect(response.status, await response.text()).toBe(201);
        return new URL(response.headers.get('location') ?? '', server.httpUrl);
      }),
    );
    expect(storeListeners()).toEqual(before.store);

    // HTTP-FLV readers, each receiving FLV.
    const readers = await Promise.all(
      times(FLV_READERS, async () => {
        const response = await fetch(`${server.httpUrl}/live/live/crowd.flv`);
        expect(response.status).toBe(200);
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        const first = await reader.read();
        expect(Buffer.from(first.value ?? []).subarray(0, 3).toString()).toBe('FLV');
        return reader;
      }),
    );
    expect(feedListeners()).toBe(before.feed);

    // Every session's end is its own stop_play, and the store keeps its listeners.
    await Promise.all(locations.map(async (location) => expect((await fetch(location, { method: 'DELETE' })).status).toBe(200)));
    const ids = (event: string) => new Set(events.filter((e) => e.event === event).map((e) => e.sessionId));
    await waitUntil(() => ids('stop_play').size === VIEWERS, `${VIEWERS} stop_play callbacks`);
    expect(ids('stop_play')).toEqual(ids('play'));
    expect(storeListeners()).toEqual(before.store);

    // The stream ends: each reader's response ends, through its own subscription.
    encoder.kill('SIGKILL');
    await Promise.all(readers.map(readToEnd));
    expect(feedListeners()).toBe(before.feed);
    expect(warnings).toEqual([]);
  });
});
