// Issue 6 end to end with Chromium: the calibrator published over WHIP (publish.html), played over WHEP
// (play.html, reporting its measured latency over GET /ws/player); the publisher stops and starts again and the
// player reconnects by itself; dashboard.html (GET /api/events) shows the stream, its viewers and the reported
// latency; /metrics counts the reports. Also the feed's admin rule and the report socket's validation.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { serverAndChromium } from '../helpers/browser.js';
import { startTestServer, waitUntil } from '../helpers/server.js';

interface PlayerState {
  state?: string;
  error?: string;
  framesDecoded?: number;
  reconnects?: number;
  reportsSent?: number;
  ttffMs?: number;
  latency?: { p50?: number; samples: number };
  stats?: { bitrateBps?: number; fps?: number; rttMs?: number };
}
interface DashboardStream {
  app: string;
  stream: string;
  viewers: number;
  viewerLatency: { latencyP50Ms: number | null; viewers: number } | null;
}
interface DashboardState {
  connected: boolean;
  snapshots: number;
  streams: DashboardStream[];
}

const rig = serverAndChromium();

const stateOf = <T>(page: Page) => page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { whipcast?: unknown }).whipcast ?? {})) as unknown) as Promise<T>;

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${rig.server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('dashboard, viewer reports and reconnecting player', () => {
  it('publisher stops and comes back: the player reconnects; the dashboard shows viewers and latency; /metrics counts reports', async () => {
    const stream = 'live/dash';
    const publisher = await rig.browser.newPage();
    await publisher.goto(`${rig.server.httpUrl}/publish.html?${new URLSearchParams({ stream, source: 'calibrator' }).toString()}`);
    const publishing = async () => {
      await publisher.click('#start');
      await waitUntil(async () => {
        const state = await stateOf<{ state?: string; error?: string }>(publisher);
        if (state.error !== undefined) throw new Error(`publisher: ${state.error}`);
        return state.state === 'connected';
      }, 'publisher connected');
    };
    await publishing();

    const player = await rig.browser.newPage();
    await player.goto(`${rig.server.httpUrl}/play.html?${new URLSearchParams({ stream, autoplay: '', reportEvery: '1000' }).toString()}`);
    const playing = (what: string, check: (s: PlayerState) => boolean = () => true) =>
      waitUntil(
        async () => {
          const state = await stateOf<PlayerState>(player);
          if (state.error !== undefined) throw new Error(`player: ${state.error}`);
          return state.state === 'playing' && (state.framesDecoded ?? 0) > 30 && check(state);
        },
        what,
        30_000,
      );
    await playing('player: > 30 frames decoded');
    expect(await player.isChecked('#report')).toBe(true);

    // The publisher leaves (Stop), then publishes again: the player gets its frames back on its own.
    await publisher.click('#stop');
    await waitUntil(() => rig.server.registry.list().length === 0, 'stream offline');
    await waitUntil(async () => (await stateOf<PlayerState>(player)).state !== 'playing', 'player sees the end');
    await publishing();
    await playing('player reconnected, > 30 frames decoded again', (s) => (s.reconnects ?? 0) >= 1 && (s.latency?.samples ?? 0) > 10 && (s.reportsSent ?? 0) > 0).catch(async (error: unknown) => {
      const { latency, ...rest } = await stateOf<PlayerState & { session?: unknown }>(player);
      throw new Error(`${String(error)}: player ${JSON.stringify({ ...rest, session: undefined, samples: latency?.samples })}`);
    });
    const played = await stateOf<PlayerState>(player);
    expect(played.reconnects).toBeGreaterThanOrEqual(1);
    expect(played.ttffMs).toBeGreaterThan(0);
    expect(await player.isVisible('#overlay')).toBe(true);
    await waitUntil(async () => /bitrate +\d+ kbit\/s[\s\S]*latency +p50 \d+/.test((await player.textContent('#overlay')) ?? ''), 'overlay: bitrate and latency');

    // The dashboard: the stream, a viewer, the latency that viewer reports.
    const dashboard = await rig.browser.newPage();
    await dashboard.goto(`${rig.server.httpUrl}/dashboard.html`);
    await waitUntil(
      async () => {
        const state = await stateOf<DashboardState>(dashboard);
        const s = state.streams.find((x) => `${x.app}/${x.stream}` === stream);
        return s !== undefined && s.viewers >= 1 && s.viewerLatency?.latencyP50Ms !== null && s.viewerLatency !== null;
      },
      'dashboard: the stream with a viewer and a reported latency',
      20_000,
    );
    const row = dashboard.locator(`tr[data-stream="${stream}"]`);
    expect(await row.locator('.name').textContent()).toBe(stream);
    expect(Number(await row.locator('.viewers').textContent())).toBeGreaterThanOrEqual(1);
    const latencyText = (await row.locator('.latency').textContent()) ?? '';
    console.log(`dashboard: ${stream} latency ${latencyText}`);
    expect(latencyText).toMatch(/^\d+ \/ \d+ ms \(1 reporting\)/);
    expect(await row.locator('canvas').count()).toBe(1);

    // /metrics: the reports, and the TTFF of both connections
    await waitUntil(async () => (await metric('whipcast_viewer_latency_seconds_count')) > 0, 'whipcast_viewer_latency_seconds_count > 0');
    expect(await metric('whipcast_viewer_ttff_seconds_count')).toBeGreaterThanOrEqual(1);

    await publisher.click('#stop');
    await Promise.all([publisher, player, dashboard].map((p) => p.context().close()));
  }, 120_000); // a user's whole session: publish, play, stop, publish again, reconnect, dashboard (Chromium on 2 cores)

  it('/api/events keeps the admin rule; /ws/player ignores garbage and reports of streams not live', async () => {
    const secured = await startTestServer({ auth: { adminToken: 'sekret' } });
    try {
      // Node 20 has no WebSocket client: the sockets are opened from a page of the server (as the demo pages do).
      const page = await rig.browser.newPage();
      await page.goto(`${secured.httpUrl}/index.html`);
      const opens = (path: string) =>
        page.evaluate(
          (path) =>
            new Promise<string>((resolve) => {
              const ws = new WebSocket(new URL(path, location.href.replace(/^http/, 'ws')));
              ws.onmessage = (event) => {
                resolve(String(event.data));
                ws.close();
              };
              ws.onerror = () => resolve('refused');
            }),
          path,
        );
      expect(await opens('/api/events?token=wrong')).toBe('refused');
      expect(await opens('/api/events')).toBe('refused');
      expect(JSON.parse(await opens('/api/events?token=sekret'))).toMatchObject({ type: 'snapshot', streams: [] });

      const count = async () => /^whipcast_viewer_latency_seconds_count (\d+)/m.exec(await (await fetch(`${secured.httpUrl}/metrics`)).text())?.[1];
      const closed = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const ws = new WebSocket(new URL('/ws/player', location.href.replace(/^http/, 'ws')));
            ws.onopen = () => {
              ws.send('not json');
              ws.send(JSON.stringify({ app: 'live', stream: 'nobody', latencyP50Ms: 100 })); // not live
              ws.send(JSON.stringify({ app: '../x', stream: 'y', latencyP50Ms: 100 }));
              ws.send(JSON.stringify({ app: 'live', stream: 'x', latencyP50Ms: -5, extra: 1 }));
              ws.send('x'.repeat(4096)); // over the size cap: the server closes the socket
            };
            ws.onclose = (event) => resolve(event.code);
          }),
      );
      expect(closed).toBe(1009); // message too big
      expect(await count()).toBe('0');
      await page.context().close();
    } finally {
      await secured.close();
    }
  });
});
