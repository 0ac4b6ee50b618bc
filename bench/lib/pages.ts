// The demo pages driven in Chromium for benchmarks: a stream going live (from publish.html or any other source),
// and one play.html join measured by the page itself (window.whipcast.firstFrameMs: from the click on Play to the
// first frame its <video> presents, and window.whipcast.timing: the steps in between).
import type { Page } from 'playwright-core';
import type { Room } from '../../sfu/index.js';
import type { BenchBrowser } from './browser.js';
import { waitFor, type WhipcastServer } from './server.js';

/** What publish.html / play.html expose on window.whipcast (read defensively: the pages evolve). */
interface PageState {
  firstFrameMs?: number;
  error?: string;
  session?: { stop?: () => Promise<void> };
}

/**
 * Waits until `stream` is live on the server and its video producer has received 100 packets. `page`: a
 * publish.html page whose error, if it shows one, fails the wait at once.
 */
export async function waitForLive(srv: WhipcastServer, stream: string, page?: Page, timeoutMs = 30_000): Promise<Room> {
  let room: Room | undefined;
  await waitFor(async () => {
    const error = page ? await page.evaluate(() => (window as unknown as { whipcast?: PageState }).whipcast?.error) : undefined;
    if (error) throw new Error(`publish.html: ${error}`);
    room = srv.registry.list().find((s) => `${s.app}/${s.stream}` === stream)?.room;
    const producer = room?.producers.find((p) => p.kind === 'video');
    if (!producer) return false;
    const [stats] = await producer.getStats();
    return (stats?.packetCount ?? 0) > 100;
  }, `${stream} to go live`, timeoutMs);
  if (!room) throw new Error(`${stream} is not live`);
  return room;
}

/** Waits (briefly) until the previous viewer is gone, so that every join starts from the same state. */
export async function settle(room: Room): Promise<void> {
  await waitFor(() => room.viewerCount === 0, 'the previous viewer to leave', 10_000).catch(() => console.warn(`  (a previous viewer is still attached: ${room.viewerCount})`));
}

/** A join's time to first frame and play.html's steps before it (ms from the click). */
export type JoinResult = { firstFrameMs: number; timing?: JoinTiming } | { error: string };
export interface JoinTiming {
  offerMs?: number;
  fetchedMs?: number;
  answerMs?: number;
  connectedMs?: number;
}

/**
 * A viewer's join as a user makes it: opens play.html for `stream` in a context of its own (`query`: more of its
 * parameters, e.g. protocol=hls), waits until the page has loaded and gone quiet, clicks Play, reads the page's time
 * to first frame (from the click) and its steps, and leaves (DELETE).
 */
export async function joinOnce(b: BenchBrowser, httpUrl: string, stream: string, timeoutMs: number, query: Record<string, string> = {}): Promise<JoinResult> {
  const { page, close } = await b.newPage();
  try {
    await page.goto(`${httpUrl}/play.html?${new URLSearchParams({ stream, report: '0', ...query }).toString()}`);
    await page.waitForLoadState('networkidle');
    await page.click('#form button[type=submit]');
    const firstFrameMs = await waitForFirstFrame(page, timeoutMs);
    const timing = await page.evaluate(() => (window as unknown as { whipcast?: { timing?: JoinTiming } }).whipcast?.timing);
    await stopSession(page);
    return { firstFrameMs, ...(timing ? { timing } : {}) };
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? 'error' };
  } finally {
    await close();
  }
}

/** play.html's time to first frame, once it has one; its error (or the timeout) rejects. */
export async function waitForFirstFrame(page: Page, timeoutMs: number): Promise<number> {
  const handle = await page.waitForFunction(
    () => {
      const s = (window as unknown as { whipcast?: PageState }).whipcast;
      if (s?.error !== undefined) throw new Error(`play.html: ${s.error}`);
      return s?.firstFrameMs;
    },
    undefined,
    { timeout: timeoutMs, polling: 20 },
  );
  return (await handle.jsonValue()) as number;
}

/** Ends a page's session the way a client does (WHIP/WHEP DELETE), so the server frees it now rather than on timeout. */
export async function stopSession(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await (window as unknown as { whipcast?: PageState }).whipcast?.session?.stop?.();
  }).catch(() => undefined);
}
