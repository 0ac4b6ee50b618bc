// Primary and backup publishers (`?backup=1`): viewers get the primary while it delivers; when it stops, every
// output switches to the backup (WebRTC viewers in their sessions, the HTTP-FLV and HLS of the stream), and the
// primary takes back when it returns (revert: auto, after the hold time). Judged by what clients receive.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamSourceChange } from '../../src/streams/StreamRegistry.js';
import type { WhipcastServer } from '../../src/server.js';
import { killProcess as kill, rtmpEncoder } from '../helpers/encoder.js';
import { decodeH264 } from '../helpers/media.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
/** A server whose primary must deliver 3 s without a break before it takes back (the flapping test). */
let steady: WhipcastServer;
const open: (Publisher | Viewer)[] = [];
const track = <T extends Publisher | Viewer>(x: T): T => (open.push(x), x);
const changes: StreamSourceChange[] = [];

beforeAll(async () => {
  [server, steady] = await Promise.all([
    startTestServer({ continuity: { backup: { holdSeconds: 1 } } }),
    startTestServer({ continuity: { backup: { holdSeconds: 3 } } }),
  ]);
  server.registry.on('source', (change) => changes.push(change));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map(async (x) => {
    await fetch(x.session.location, { method: 'DELETE' }).catch(() => undefined);
    await x.close();
  }));
  for (const s of [server, steady]) for (const live of s.registry.list()) live.kick('test over');
});
afterAll(async () => {
  await Promise.all([server?.close(), steady?.close()]);
});

interface SourcesView {
  state: string;
  activeSource: string | null;
  sources: { role: string; sessionId: string; active: boolean; delivering: boolean }[];
}

async function sources(on: WhipcastServer, name: string): Promise<SourcesView> {
  const response = await fetch(`${on.httpUrl}/api/streams/${name}`);
  return (await response.json()) as SourcesView;
}

const sessionOf = (publisher: Publisher): string => publisher.session.location.split('/').pop() ?? '';

/** The longest time the viewer's video packet count stood still while `during` ran (polled every 20 ms). */
async function longestStall(viewer: Viewer, during: () => Promise<void>): Promise<number> {
  let longest = 0;
  let last = viewer.packets.video.length;
  let since = Date.now();
  let running = true;
  const poll = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, 20));
      const now = viewer.packets.video.length;
      if (now !== last) {
        longest = Math.max(longest, Date.now() - since);
        last = now;
        since = Date.now();
      }
    }
  })();
  try {
    await during();
  } finally {
    running = false;
    await poll;
  }
  return longest;
}

describe('primary and backup over WHIP', () => {
  it('the backup takes over when the primary dies, in the viewers\' sessions; a third publisher is 409; the primary takes back when it returns', async () => {
    const primary = await publish(`${server.httpUrl}/whip/live/dual`, { video: 'H264' });
    await primary.connected;
    const backup = track(await publish(`${server.httpUrl}/whip/live/dual?backup=1`, { video: 'H264' }));
    await backup.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/live/dual`, { video: ['H264'] }));
    await waitUntil(() => viewer.packets.video.length > 60, 'video from the primary');
    await waitUntil(async () => (await sources(server, 'live/dual')).sources.every((s) => s.delivering), 'both publishers to deliver');
    const view1 = await sources(server, 'live/dual');
    expect(view1).toMatchObject({ state: 'live', activeSource: 'primary' });
    expect(view1.sources.map((s) => [s.role, s.active, s.sessionId]).sort()).toEqual([['backup', false, sessionOf(backup)], ['primary', true, sessionOf(primary)]]);

    // A third publisher, in either role, is refused.
    await expect(publish(`${server.httpUrl}/whip/live/dual`, { video: 'H264' })).rejects.toThrow(/409/);
    await expect(publish(`${server.httpUrl}/whip/live/dual?backup=1`, { video: 'H264' })).rejects.toThrow(/409/);

    const whep = server.sessions.list().filter((s) => s.kind === 'whep' && s.stream === 'dual').map((s) => s.id);
    const before = viewer.packets.video.length;
    // Killed: no DELETE. The viewer's video must go on from the backup.
    const stall = await longestStall(viewer, async () => {
      await primary.close();
      await waitUntil(async () => (await sources(server, 'live/dual')).activeSource === 'backup', 'the backup to be active');
      await waitUntil(() => viewer.packets.video.length > before + 120, 'video from the backup');
    });
    console.log(`primary killed: the viewer's longest video gap was ${stall} ms`);
    expect(changes.some((c) => c.stream.stream === 'dual' && c.from === 'primary' && c.to === 'backup')).toBe(true);
    expect(server.sessions.list().filter((s) => s.kind === 'whep' && s.stream === 'dual').map((s) => s.id)).toEqual(whep);
    expect(new Set(viewer.packets.video.map((p) => p.header.ssrc)).size).toBe(1);
    expect((await decodeH264(viewer.packets.video.slice(before))).frames).toBeGreaterThan(20);
    expect(server.registry.get('live', 'dual')?.sessionId).toBe(sessionOf(backup));

    // The primary comes back: after it has delivered for the hold time, it is active again.
    const again = track(await publish(`${server.httpUrl}/whip/live/dual`, { video: 'H264' }));
    await again.connected;
    await waitUntil(async () => (await sources(server, 'live/dual')).activeSource === 'primary', 'the primary to take back');
    const reverted = viewer.packets.video.length;
    await waitUntil(() => viewer.packets.video.length > reverted + 60, 'video after the revert');
    expect(server.registry.get('live', 'dual')?.sessionId).toBe(sessionOf(again));
  });

  it('a backup that comes first is active; the primary takes over when it comes; the control API switches by hand', async () => {
    const backup = track(await publish(`${server.httpUrl}/whip/live/early?backup=1`, { video: 'H264' }));
    await backup.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/live/early`, { video: ['H264'] }));
    await waitUntil(() => viewer.packets.video.length > 30, 'video from the backup');
    expect((await sources(server, 'live/early')).activeSource).toBe('backup');
    const primary = track(await publish(`${server.httpUrl}/whip/live/early`, { video: 'H264' }));
    await primary.connected;
    await waitUntil(async () => (await sources(server, 'live/early')).activeSource === 'primary', 'the primary to take over');

    const post = (role: string): Promise<Response> => fetch(`${server.httpUrl}/api/streams/live/early/source`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role }) });
    expect((await post('backup')).status).toBe(200);
    expect((await sources(server, 'live/early')).activeSource).toBe('backup');
    expect((await post('nobody')).status).toBe(400);
    const [before] = await server.sfu.dump();
    // Switching back and forth leaves nothing behind in the worker.
    for (let i = 0; i < 100; i++) expect((await post(i % 2 === 0 ? 'primary' : 'backup')).status).toBe(200);
    await waitUntil(async () => (await server.sfu.dump())[0]?.objects === before?.objects, 'the worker to hold what it held before the switches');
    const count = viewer.packets.video.length;
    await waitUntil(() => viewer.packets.video.length > count + 60, 'video after 100 switches');
    expect(new Set(viewer.packets.video.map((p) => p.header.ssrc)).size).toBe(1);
  });

  it('a primary and a backup publishing at the same moment share one stream', async () => {
    const [primary, backup] = await Promise.all([
      publish(`${server.httpUrl}/whip/live/together`, { video: 'H264' }),
      publish(`${server.httpUrl}/whip/live/together?backup=1`, { video: 'H264' }),
    ]);
    track(primary);
    track(backup);
    await Promise.all([primary.connected, backup.connected]);
    const view1 = await sources(server, 'live/together');
    expect(view1.sources.map((s) => s.role).sort()).toEqual(['backup', 'primary']);
    expect(server.registry.list().filter((s) => s.stream === 'together')).toHaveLength(1);
    const viewer = track(await view(`${server.httpUrl}/whep/live/together`, { video: ['H264'] }));
    await waitUntil(() => viewer.packets.video.length > 30, 'video of the shared stream');
  });

  it('a primary that comes and goes every second does not make the stream switch back and forth', async () => {
    const backup = track(await publish(`${steady.httpUrl}/whip/live/flap?backup=1`, { video: 'H264' }));
    await backup.connected;
    const seen: StreamSourceChange[] = [];
    steady.registry.on('source', (change) => seen.push(change));
    const started = Date.now();
    for (let i = 0; i < 4; i++) {
      const primary = await publish(`${steady.httpUrl}/whip/live/flap`, { video: 'H264' });
      await primary.connected;
      await new Promise((r) => setTimeout(r, 1000)); // flapping is the behaviour under test: a primary up for 1 s
      await fetch(primary.session.location, { method: 'DELETE' });
      await primary.close();
    }
    const holds = Math.ceil((Date.now() - started) / 3000);
    expect(seen.filter((c) => c.stream.stream === 'flap').length).toBeLessThanOrEqual(holds);
    expect((await sources(steady, 'live/flap')).activeSource).toBe('backup');
  });
});

describe('primary and backup over RTMP', () => {
  it('WebRTC viewers, HTTP-FLV and HLS go on with the backup encoder when the primary encoder dies', async () => {
    const url = `rtmp://127.0.0.1:${server.rtmpPort}/live/dual-rtmp`;
    const encoders = [rtmpEncoder(url, { gop: 30 })];
    const players: ChildProcess[] = [];
    try {
      await waitUntil(() => server.registry.get('live', 'dual-rtmp') !== undefined, 'the primary encoder to go live');
      encoders.push(rtmpEncoder(`${url}?backup=1`, { gop: 30 }));
      await waitUntil(async () => (await sources(server, 'live/dual-rtmp')).sources.length === 2, 'the backup encoder to stand by');
      const viewer = track(await view(`${server.httpUrl}/whep/live/dual-rtmp`, { video: ['H264'] }));
      await waitUntil(() => viewer.packets.video.length > 60, 'video from the primary');
      // Standard-latency players: FFmpeg reading the HTTP-FLV and the HLS, each frame a line.
      const frames = { flv: 0, hls: 0 };
      for (const kind of ['flv', 'hls'] as const) {
        const player = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `${server.httpUrl}/live/live/dual-rtmp.${kind === 'flv' ? 'flv' : 'm3u8'}`, '-map', '0:v', '-f', 'framecrc', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
        player.stdout.on('data', (chunk: Buffer) => (frames[kind] += chunk.toString().split('\n').filter((l) => l && !l.startsWith('#')).length));
        players.push(player);
      }
      await waitUntil(() => frames.flv > 30 && frames.hls > 30, 'the FLV and HLS players to play the primary', 30_000);

      const before = { webrtc: viewer.packets.video.length, ...frames };
      await kill(encoders[0] as ChildProcess);
      await waitUntil(async () => (await sources(server, 'live/dual-rtmp')).activeSource === 'backup', 'the backup encoder to be active');
      await waitUntil(() => viewer.packets.video.length > before.webrtc + 150, 'WebRTC video from the backup');
      await waitUntil(() => frames.flv > before.flv + 60 && frames.hls > before.hls + 60, 'the FLV and HLS players to go on with the backup', 40_000);
      for (const player of players) expect(player.exitCode).toBeNull();
      expect(new Set(viewer.packets.video.map((p) => p.header.ssrc)).size).toBe(1);
      expect((await decodeH264(viewer.packets.video.slice(before.webrtc))).frames).toBeGreaterThan(20);
    } finally {
      await Promise.all([...encoders, ...players].map(kill));
    }
  });

  it('an RTMP primary with a WHIP backup: the backup takes over when the encoder dies', async () => {
    const url = `rtmp://127.0.0.1:${server.rtmpPort}/live/mixed`;
    const encoder = rtmpEncoder(url, { profile: 'baseline' });
    try {
      await waitUntil(() => server.registry.get('live', 'mixed') !== undefined, 'the RTMP primary to go live');
      const backup = track(await publish(`${server.httpUrl}/whip/live/mixed?backup=1`, { video: 'H264' }));
      await backup.connected;
      const viewer = track(await view(`${server.httpUrl}/whep/live/mixed`, { video: ['H264'] }));
      await waitUntil(() => viewer.packets.video.length > 60, 'video from the RTMP primary');
      const before = viewer.packets.video.length;
      await kill(encoder);
      await waitUntil(async () => (await sources(server, 'live/mixed')).activeSource === 'backup', 'the WHIP backup to be active');
      await waitUntil(() => viewer.packets.video.length > before + 150, 'video from the WHIP backup');
      expect(server.registry.get('live', 'mixed')?.protocol).toBe('whip');
      expect((await decodeH264(viewer.packets.video.slice(before))).frames).toBeGreaterThan(20);
    } finally {
      await kill(encoder);
    }
  });
});
