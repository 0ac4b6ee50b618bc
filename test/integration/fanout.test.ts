// One stream over two workers: once the origin worker carries its budget, new viewers are served from a router on
// the other worker, fed through a pipe; everything is released when the publisher leaves. A worker's load (GET
// /api/workers "transports", what rtc.viewersPerWorker is a budget of) counts every transport it carries: WebRTC
// publishers and viewers, both ends of a pipe to a delivery router, plain-RTP subscribers, each while it is open.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { decodeH264 } from '../helpers/media.js';
import { freePortRange } from '../helpers/ports.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
const clients: (Publisher | Viewer)[] = [];

beforeAll(async () => {
  // Budget 2 transports per worker: the publisher and one viewer fill worker 0.
  server = await startTestServer({ rtc: { workers: 2, viewersPerWorker: 2 } });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
});

it('spreads one stream over both workers through a pipe, and releases every router when it ends', async () => {
  const publisher = await publish(`${server.httpUrl}/whip/live/fan`);
  clients.push(publisher);
  await publisher.connected;
  const viewers: Viewer[] = [];
  for (let i = 0; i < 3; i++) {
    const viewer = await view(`${server.httpUrl}/whep/live/fan`);
    clients.push(viewer);
    viewers.push(viewer);
  }
  const room = server.registry.list().find((s) => s.stream === 'fan')?.room;
  // One viewer beside the publisher on the origin worker, the two others on the second worker.
  expect(Object.values(room?.viewersByWorker() ?? {}).sort()).toEqual([1, 2]);
  const dump = await server.sfu.dump();
  expect(dump.map((w) => w.routers)).toEqual([1, 1]);

  for (const viewer of viewers) {
    await waitUntil(() => viewer.packets.video.length > 60 && viewer.packets.audio.length > 20, 'media on every worker');
    expect((await decodeH264(viewer.packets.video)).frames).toBeGreaterThan(5);
  }

  expect((await fetch(publisher.session.location, { method: 'DELETE' })).status).toBe(200);
  await waitUntil(async () => (await server.sfu.dump()).every((w) => w.routers === 0 && w.webRtcTransports === 0), 'routers released');
});

async function loads(): Promise<number[]> {
  return (await server.sfu.workerUsage()).map((w) => w.transports);
}

it('counts publishers, viewers, pipes and plain subscribers, and releases each as it closes', async () => {
  const publisher = await publish(`${server.httpUrl}/whip/live/load`);
  clients.push(publisher);
  await publisher.connected;
  expect(await loads()).toEqual([1, 0]);

  const beside = await view(`${server.httpUrl}/whep/live/load`);
  clients.push(beside);
  expect(await loads()).toEqual([2, 0]);
  // Worker 0 is full: a delivery router on worker 1, fed by a pipe with one end on each worker.
  const across = await view(`${server.httpUrl}/whep/live/load`);
  clients.push(across);
  expect(await loads()).toEqual([3, 2]);

  const room = server.registry.list().find((s) => s.stream === 'load')?.room;
  if (!room) throw new Error('stream not live');
  expect(room.tracks().map((t) => `${t.kind} ${t.codec.mimeType}`).sort()).toEqual(['audio audio/opus', 'video video/H264']);
  const port = await freePortRange(4);
  const subscriber = await room.subscribePlain('load-test', [
    { kind: 'video', ip: '127.0.0.1', port, rtcpPort: port + 1 },
    { kind: 'audio', ip: '127.0.0.1', port: port + 2, rtcpPort: port + 3 },
  ]);
  expect(subscriber.tracks.map((t) => t.kind)).toEqual(['video', 'audio']);
  expect(await loads()).toEqual([5, 2]);
  subscriber.close('test done');
  expect(await loads()).toEqual([3, 2]);

  expect((await fetch(across.session.location, { method: 'DELETE' })).status).toBe(200);
  // The pipe serves the delivery router until the stream ends.
  await waitUntil(async () => (await loads()).join() === '3,1', 'the viewer on worker 1 released');
  expect((await fetch(publisher.session.location, { method: 'DELETE' })).status).toBe(200);
  await waitUntil(async () => (await loads()).every((n) => n === 0), 'every transport released');
});
