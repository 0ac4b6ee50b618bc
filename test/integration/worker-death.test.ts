// A mediasoup worker that dies takes its streams offline, is replaced on the same port, and the server keeps serving.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher } from '../helpers/werift.js';

let server: WhipcastServer;
const clients: Publisher[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
});

it('a killed worker ends its streams and is replaced; publishing works again', async () => {
  const first = await publish(`${server.httpUrl}/whip/live/worker`, { audio: false });
  clients.push(first);
  await first.connected;
  const [before] = await server.sfu.workerUsage();
  if (!before || before.pid <= 0) throw new Error('no worker pid');
  process.kill(before.pid, 'SIGKILL');
  await waitUntil(() => server.registry.list().length === 0, 'stream offline after the worker died');
  await waitUntil(async () => {
    const [now] = await server.sfu.workerUsage().catch(() => []);
    return now !== undefined && now.pid !== before.pid;
  }, 'a new worker');
  expect(server.sessions.size).toBe(0);
  expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  await first.close(); // its server side is gone: a client would hang up too

  const again = await publish(`${server.httpUrl}/whip/live/worker`, { audio: false });
  clients.push(again);
  await again.connected;
  const viewer = await view(`${server.httpUrl}/whep/live/worker`);
  await waitUntil(() => viewer.packets.video.length > 30, 'media on the new worker');
  await viewer.close();
});
