// Measured latency end to end (issue 6): Chromium publishes the time calibrator (publish.html, source
// "calibrator": a canvas with the time code in every frame) over WHIP, clicking Publish as a user would; a
// second Chromium page plays it over WHEP (play.html), reads the time code back from the displayed frames and
// shows the glass-to-glass latency. Both pages synchronise their clocks with the server's public GET /time.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { serverAndChromium } from '../helpers/browser.js';
import { waitUntil } from '../helpers/server.js';

interface Latency {
  p50?: number;
  p95?: number;
  samples: number;
  framesShown: number;
  framesRead: number;
  clockErrorMs?: number;
  synced: boolean;
}
interface CalibratorState {
  frames: number;
  synced: boolean;
  errorMs?: number;
}
/** The parts of the pages' `window.whipcast` this test reads (see web-demo/publish.html and play.html). */
interface Pages {
  whipcast?: { state?: string; error?: string; framesDecoded?: number; reconnects?: number; latency?: Latency; calibrator?: CalibratorState; stats?: { kbps?: number; fps?: number } };
}

const rig = serverAndChromium();

const pageState = (page: Page) => page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as Pages).whipcast ?? {})) as NonNullable<Pages['whipcast']>);

/** Waits until play.html has decoded more than 30 frames and measured the latency of more than `samples`. */
async function playing(player: Page, samples: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const state = await pageState(player);
      if (state.error !== undefined) throw new Error(`player: ${state.error}`);
      return (state.framesDecoded ?? 0) > 30 && (state.latency?.samples ?? 0) > samples;
    },
    `player: > 30 frames decoded and > ${samples} latency samples`,
    timeoutMs,
  );
}

describe('time calibrator and measured latency', () => {
  it('GET /time is public and not cached', async () => {
    const before = performance.timeOrigin + performance.now();
    const response = await fetch(`${rig.server.httpUrl}/time`);
    const after = performance.timeOrigin + performance.now();
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { t1, t2 } = (await response.json()) as { t1: number; t2: number };
    // same machine, same clock: the server's times lie within the exchange
    expect(t1).toBeGreaterThanOrEqual(before - 1);
    expect(t2).toBeGreaterThanOrEqual(t1);
    expect(t2).toBeLessThanOrEqual(after + 1);
  });

  it('calibrator.html draws the clock and synchronises with the server', async () => {
    const page = await rig.browser.newPage();
    await page.goto(`${rig.server.httpUrl}/calibrator.html`);
    await waitUntil(async () => {
      const state = (await page.evaluate(() => (window as unknown as { whipcast?: CalibratorState }).whipcast)) ?? { frames: 0, synced: false };
      return state.synced && state.frames > 10;
    }, 'calibrator synchronised and drawing');
    const errorMs = await page.evaluate(() => (window as unknown as { whipcast?: CalibratorState }).whipcast?.errorMs);
    expect(errorMs).toBeGreaterThanOrEqual(0);
    expect(errorMs).toBeLessThan(100);
    await page.context().close();
  });

  it('publish the calibrator, play it: frames decoded and a latency figure shown', async () => {
    const stream = 'live/calibrator';
    const publisher = await rig.browser.newPage();
    await publisher.goto(`${rig.server.httpUrl}/publish.html?${new URLSearchParams({ stream, source: 'calibrator', kbps: '800' }).toString()}`);
    expect(await publisher.inputValue('#source')).toBe('calibrator');
    await publisher.click('#start');
    await waitUntil(async () => {
      const state = await pageState(publisher);
      if (state.error !== undefined) throw new Error(`publisher: ${state.error}`);
      return state.state === 'connected';
    }, 'publisher connected');

    const player = await rig.browser.newPage();
    await player.goto(`${rig.server.httpUrl}/play.html?${new URLSearchParams({ stream, autoplay: '' }).toString()}`);
    await playing(player, 20, 30_000);
    const { latency, framesDecoded } = await pageState(player);
    const shown = await player.textContent('#latency');
    console.log(`calibrator → WHIP → WHEP: ${framesDecoded} frames decoded, time code read in ${latency?.framesRead}/${latency?.framesShown} displayed; ${shown}`);
    expect(latency?.synced).toBe(true);
    expect(Number.isFinite(latency?.p50)).toBe(true);
    expect(latency?.p50).toBeGreaterThan(0);
    expect(latency?.p50).toBeLessThan(2000); // a sanity bound, not a performance figure
    expect(latency?.p95).toBeGreaterThanOrEqual(latency?.p50 ?? Infinity);
    expect(latency?.clockErrorMs).toBeGreaterThanOrEqual(0);
    // the code survives Chromium's encoder and decoder: (nearly) every displayed frame is read
    expect(latency?.framesRead).toBeGreaterThanOrEqual(0.9 * (latency?.framesShown ?? Infinity));
    expect(await player.isVisible('#latency')).toBe(true);
    expect(shown).toMatch(/latency p50 \d+ ms {2}p95 \d+ ms/);
    // The publisher's live stats: what it sends, under the bitrate cap asked for.
    await waitUntil(async () => ((await pageState(publisher)).stats?.kbps ?? 0) > 0, 'publisher stats');
    const { stats } = await pageState(publisher);
    expect(stats?.kbps).toBeLessThan(1200);
    expect(await publisher.textContent('#stats')).toMatch(/video \d+ kbit\/s/);
    await publisher.click('#stop');
    await publisher.context().close();
    await player.context().close();
  });

  it('plays the stream over HLS too (play.html protocol=hls, hls.js served by whipcast): frames shown, latency measured', async () => {
    const stream = 'live/calibrator-hls';
    const publisher = await rig.browser.newPage();
    await publisher.goto(`${rig.server.httpUrl}/publish.html?${new URLSearchParams({ stream, source: 'calibrator', kbps: '800', autostart: '' }).toString()}`);
    await waitUntil(async () => (await pageState(publisher)).state === 'connected', 'publisher connected');

    const player = await rig.browser.newPage();
    await player.goto(`${rig.server.httpUrl}/play.html?${new URLSearchParams({ stream, protocol: 'hls', autoplay: '' }).toString()}`);
    expect(await player.inputValue('#protocol')).toBe('hls');
    await playing(player, 10, 40_000);
    const { latency, state } = await pageState(player);
    expect(state).toBe('playing');
    // HLS sits segments behind the live edge: more than WebRTC, still a sane figure
    expect(latency?.p50).toBeGreaterThan(0);
    expect(latency?.p50).toBeLessThan(15_000);
    expect(latency?.framesRead).toBeGreaterThanOrEqual(0.9 * (latency?.framesShown ?? Infinity));
    expect(await player.textContent('#overlay')).toMatch(/buffer +\d+ ms/);
    // Only hls.js's light ESM build is served from node_modules.
    expect((await fetch(`${rig.server.httpUrl}/vendor/hls.js/hls.light.min.mjs`)).status).toBe(200);
    expect((await fetch(`${rig.server.httpUrl}/vendor/hls.js/hls.js`)).status).toBe(404);
    expect((await fetch(`${rig.server.httpUrl}/vendor/hls.js/../package.json`)).status).toBe(404);

    // The publisher leaves: the playlist goes (404), hls.js gives up, and the page waits for the stream; it comes
    // back: the page plays the new publish's playlist by itself.
    await publisher.click('#stop');
    await waitUntil(async () => !/^playing/.test((await pageState(player)).state ?? ''), 'HLS player noticed the stream went', 30_000);
    await publisher.click('#start');
    await waitUntil(async () => {
      const s = await pageState(player);
      return (s.reconnects ?? 0) >= 1 && s.state === 'playing' && (s.latency?.samples ?? 0) > 10; // the new connection's measurement
    }, 'HLS player playing again', 40_000);
    await publisher.context().close();
    await player.context().close();
  }, 120_000); // two HLS starts (each waits for a segment) and a reconnection
});
