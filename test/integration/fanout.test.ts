// One stream over two workers: once the origin worker carries its budget, new viewers are served from a router on
// the other worker, fed through a pipe; everything is released when the publisher leaves.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { decodeH264 } from '../helpers/media.js';
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
