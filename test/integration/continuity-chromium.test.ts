// Continuity with a browser viewer: play.html in Chromium watches a stream whose publisher is killed and replaced
// within the grace. The page's one RTCPeerConnection stays connected, no second WHEP POST is made, and frames are
// decoded again after the restart.
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { connectionState, framesDecoded, openPlayer, serverAndChromium } from '../helpers/browser.js';
import { killProcess as kill, rtmpEncoder } from '../helpers/encoder.js';
import { waitUntil } from '../helpers/server.js';
import { publish } from '../helpers/werift.js';

const rig = serverAndChromium();

const whepSessions = (stream: string): string[] => rig.server.sessions.list().filter((s) => s.kind === 'whep' && s.stream === stream).map((s) => s.id);
const isWaiting = (stream: string): boolean => rig.server.registry.waitingStreams().some((w) => w.stream === stream);

/** Marks the page's RTCPeerConnection, to tell later whether it is still the same object. */
async function markConnection(page: Page): Promise<void> {
  await page.evaluate(() => {
    const pc = window.whipcast?.session?.pc;
    if (pc) Reflect.set(pc, 'continuityMark', true);
  });
}

function sameConnection(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const pc = window.whipcast?.session?.pc;
    return pc !== undefined && Reflect.get(pc, 'continuityMark') === true;
  });
}

/** Waits for the viewer's decoded frames to stop growing: the publisher is gone. */
async function frozen(page: Page): Promise<number> {
  let last = -1;
  let still = 0;
  await waitUntil(async () => {
    const now = await framesDecoded(page);
    still = now === last ? still + 1 : 0;
    last = now;
    return still >= 10;
  }, 'the video to freeze');
  return last;
}

async function expectResumed(page: Page, stream: string, session: string | undefined, frozenAt: number): Promise<void> {
  await waitUntil(async () => (await framesDecoded(page)) > frozenAt + 60, 'frames decoded again in the same page session', 30_000);
  expect(await sameConnection(page)).toBe(true);
  expect(await connectionState(page)).toBe('connected');
  expect(whepSessions(stream)).toEqual([session]);
}

it('a killed WHIP publisher replaced within the grace: the Chromium viewer decodes again in its one RTCPeerConnection', async () => {
  const { server, browser } = rig;
  const first = await publish(`${server.httpUrl}/whip/live/cont-whip`, { video: 'H264' });
  await first.connected;
  const page = await openPlayer(browser, server.httpUrl, 'live/cont-whip');
  const second = { publisher: undefined as Awaited<ReturnType<typeof publish>> | undefined };
  try {
    await waitUntil(async () => (await framesDecoded(page)) > 30, 'Chromium to decode the first publisher');
    await markConnection(page);
    const [session] = whepSessions('cont-whip');
    // Killed: no DELETE, the server finds out from the connection.
    await first.close();
    await waitUntil(() => isWaiting('cont-whip'), 'the stream to wait for a new publisher');
    const frozenAt = await frozen(page);
    second.publisher = await publish(`${server.httpUrl}/whip/live/cont-whip`, { video: 'H264' });
    await second.publisher.connected;
    await expectResumed(page, 'cont-whip', session, frozenAt);
  } finally {
    await page.close();
    await second.publisher?.close();
  }
});

it('a killed RTMP encoder restarted within the grace: the Chromium viewer decodes again in its one RTCPeerConnection', async () => {
  const { server, browser } = rig;
  const url = `rtmp://127.0.0.1:${server.rtmpPort}/live/cont-rtmp`;
  const encoders: ChildProcess[] = [rtmpEncoder(url)];
  let page: Page | undefined;
  try {
    await waitUntil(() => server.registry.get('live', 'cont-rtmp') !== undefined, 'the RTMP stream to go live');
    page = await openPlayer(browser, server.httpUrl, 'live/cont-rtmp');
    const player = page;
    await waitUntil(async () => (await framesDecoded(player)) > 30, 'Chromium to decode the first encoder');
    await markConnection(player);
    const [session] = whepSessions('cont-rtmp');
    await kill(encoders[0] as ChildProcess);
    await waitUntil(() => isWaiting('cont-rtmp'), 'the stream to wait for a new publisher');
    const frozenAt = await frozen(player);
    encoders.push(rtmpEncoder(url));
    await expectResumed(player, 'cont-rtmp', session, frozenAt);
  } finally {
    await page?.close();
    await Promise.all(encoders.map(kill));
  }
});
