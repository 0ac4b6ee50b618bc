// bench:failover — how long a viewer's picture freezes when a stream's publisher changes (README "Continuity").
//
// The real server runs in this process (reconnect grace 10 s, backup failover 500 ms, hold --hold-seconds).
// Headless Chromium publishes over WHIP (publish.html, fake camera; its encoder answers key-frame requests). A
// play.html page in Chromium watches, and the page counts the frames its <video> presents
// (requestVideoFrameCallback). The frozen time of a scenario is the longest gap between two presented frames, from
// just before the change until 60 frames after it. The viewer's page is never reloaded: it must stay in its one
// session (a second WHEP POST would be counted as a reconnect and reported).
//
// Each run goes through these scenarios, in this order:
//   - grace-whip: the only publisher's page closes, and a new publisher page opens at once, as an encoder that
//     reconnects, publishing again every 250 ms while refused (the time includes the new page's own start: camera,
//     offer, ICE, DTLS; the old session has not timed out yet, and is replaced once it has delivered nothing for a
//     second: until then the server answers 409);
//   - backup: a backup page (?backup=1) is live next to the primary, and the primary's page closes;
//   - revert: a primary page opens again, and takes back after the hold time (the switch waits for its key frame);
//   - grace-rtmp: on a second stream, an FFmpeg RTMP encoder (x264, GOP 1 s, AAC) is killed and started again.
//
//   node dist/bench/failover.js --runs 10 [--hold-seconds 1]
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { resolveConfig } from '../src/config/config.js';
import { startServer } from '../src/server.js';
import { killProcess as kill, rtmpEncoder } from '../test/helpers/encoder.js';
import { launchChromium, type BenchBrowser } from './lib/browser.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { machineInfo } from './lib/proc.js';
import { printTable, summarize, writeResults, type Cell } from './lib/report.js';
import { closeServer, freePortRange, waitFor, type WhipcastServer } from './lib/server.js';

const flags = parseFlags(
  {
    runs: { type: 'string', default: '10', help: 'runs of every scenario' },
    'hold-seconds': { type: 'string', default: '1', help: 'continuity.backup.holdSeconds: how long the primary delivers before it takes back' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/failover.js [options]',
);
const runs = intFlag('runs', flags.runs, 1);
const holdSeconds = numberFlag('hold-seconds', flags['hold-seconds'], 0);
const WHIP_STREAM = 'bench/failover';
const RTMP_STREAM = 'bench/failover-rtmp';
const SCENARIOS = ['grace-whip', 'backup', 'revert', 'grace-rtmp'] as const;
type Scenario = (typeof SCENARIOS)[number];

let server: WhipcastServer | undefined;
let browser: BenchBrowser | undefined;
const encoders = new Set<ChildProcess>();

/** Counts the frames the page's <video> presents, and the longest gap between two since the last reset. */
const FRAME_WATCH = `(() => {
  const video = document.querySelector('video');
  const watch = { last: 0, longestGapMs: 0, frames: 0 };
  window.frameWatch = watch;
  const tick = (now) => {
    if (watch.last) watch.longestGapMs = Math.max(watch.longestGapMs, now - watch.last);
    watch.last = now;
    watch.frames++;
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
})()`;

interface FrameWatch {
  longestGapMs: number;
  frames: number;
}

const readWatch = (page: Page): Promise<FrameWatch> => page.evaluate(() => (window as unknown as { frameWatch: FrameWatch }).frameWatch);

/** Opens play.html on `stream`, waits for frames, and installs the frame watch. */
async function openViewer(b: BenchBrowser, httpUrl: string, stream: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const viewer = await b.newPage();
  await viewer.page.goto(`${httpUrl}/play.html?${new URLSearchParams({ stream, autoplay: '', report: '0' }).toString()}`);
  await waitFor(async () => (await viewer.page.evaluate(() => document.querySelector('video')?.readyState ?? 0)) >= 2, `play.html on ${stream} to show video`, 30_000);
  await viewer.page.evaluate(FRAME_WATCH);
  return viewer;
}

/** A publish.html page publishing `stream` (with its query, e.g. ?backup=1). */
async function openPublisher(b: BenchBrowser, httpUrl: string, stream: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const publisher = await b.newPage();
  await publisher.page.goto(`${httpUrl}/publish.html?${new URLSearchParams({ stream, codec: 'H264' }).toString()}`);
  await publisher.page.evaluate(() => (document.getElementById('form') as HTMLFormElement).requestSubmit());
  return publisher;
}

/**
 * A publisher page that publishes again, every 250 ms, while it is refused (409: its dead predecessor has delivered
 * within the last second, and is not replaced yet), as an encoder retrying.
 */
async function reconnectingPublisher(b: BenchBrowser, httpUrl: string, stream: string): Promise<{ page: Page; close: () => Promise<void> }> {
  for (;;) {
    const publisher = await openPublisher(b, httpUrl, stream);
    let refused = false;
    await waitFor(async () => {
      const state = await publisher.page.evaluate(() => {
        const w = (window as unknown as { whipcast?: { error?: string; session?: unknown } }).whipcast;
        return { error: w?.error, live: w?.session !== undefined };
      });
      refused = state.error !== undefined;
      return refused || state.live;
    }, 'the publisher page to publish or be refused', 30_000);
    if (!refused) return publisher;
    await publisher.close();
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The longest frame gap the viewer saw while `change` ran, until it has presented 60 frames after it. */
async function frozenDuring(viewer: Page, change: () => Promise<void>): Promise<number> {
  await viewer.evaluate(() => {
    (window as unknown as { frameWatch: FrameWatch }).frameWatch.longestGapMs = 0;
  });
  await change();
  const after = (await readWatch(viewer)).frames;
  await waitFor(async () => (await readWatch(viewer)).frames > after + 60, 'the viewer to present 60 frames after the change', 30_000);
  return (await readWatch(viewer)).longestGapMs;
}

const activeSource = (srv: WhipcastServer, stream: string): string | undefined => srv.registry.list().find((s) => `${s.app}/${s.stream}` === stream)?.room.activeSource;
const publishers = (srv: WhipcastServer, stream: string): number => srv.registry.list().find((s) => `${s.app}/${s.stream}` === stream)?.room.sourceStates().filter((s) => s.delivering).length ?? 0;
const reconnects = (page: Page): Promise<number> => page.evaluate(() => (window as unknown as { whipcast?: { reconnects?: number } }).whipcast?.reconnects ?? 0);

function encoderOf(url: string): ChildProcess {
  const encoder = rtmpEncoder(url, { gop: 30 });
  encoders.add(encoder);
  encoder.once('exit', () => encoders.delete(encoder));
  return encoder;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(`failover: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}; ${runs} runs; grace 10 s, failover 500 ms, hold ${holdSeconds} s`);
  server = await startServer(resolveConfig({
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    rtc: { port: await freePortRange(1), workers: 1, listenIps: [{ ip: '127.0.0.1' }] },
    continuity: { graceSeconds: 10, backup: { failoverMs: 500, holdSeconds, revert: 'auto' } },
    log: { level: flags['log-level'] },
  }));
  const srv = server;
  const b = (browser = await launchChromium());
  console.log(`chromium ${b.version}`);

  let primary = await openPublisher(b, srv.httpUrl, WHIP_STREAM);
  await waitFor(() => activeSource(srv, WHIP_STREAM) === 'primary', 'the WHIP primary to go live', 30_000);
  const viewer = await openViewer(b, srv.httpUrl, WHIP_STREAM);
  const rtmpUrl = `rtmp://127.0.0.1:${srv.rtmpPort}/${RTMP_STREAM}`;
  let encoder = encoderOf(rtmpUrl);
  await waitFor(() => activeSource(srv, RTMP_STREAM) === 'primary', 'the RTMP stream to go live', 30_000);
  const rtmpViewer = await openViewer(b, srv.httpUrl, RTMP_STREAM);

  const frozen: Record<Scenario, number[]> = { 'grace-whip': [], backup: [], revert: [], 'grace-rtmp': [] };
  for (let run = 1; run <= runs; run++) {
    frozen['grace-whip'].push(await frozenDuring(viewer.page, async () => {
      // An encoder reconnecting at once: its old connection has not timed out yet, and is replaced.
      const old = srv.registry.list().find((s) => `${s.app}/${s.stream}` === WHIP_STREAM)?.sessionId;
      await primary.close();
      primary = await reconnectingPublisher(b, srv.httpUrl, WHIP_STREAM);
      await waitFor(() => { const live = srv.registry.list().find((s) => `${s.app}/${s.stream}` === WHIP_STREAM); return live?.sessionId !== old && live?.room.activeSource === 'primary'; }, 'the new primary to feed the viewer', 30_000);
    }));
    const backup = await openPublisher(b, srv.httpUrl, `${WHIP_STREAM}?backup=1`);
    await waitFor(() => publishers(srv, WHIP_STREAM) === 2, 'the backup to stand by, delivering', 30_000);
    frozen.backup.push(await frozenDuring(viewer.page, async () => {
      await primary.close();
      await waitFor(() => activeSource(srv, WHIP_STREAM) === 'backup', 'the backup to take over', 15_000);
    }));
    frozen.revert.push(await frozenDuring(viewer.page, async () => {
      primary = await openPublisher(b, srv.httpUrl, WHIP_STREAM);
      await waitFor(() => activeSource(srv, WHIP_STREAM) === 'primary', 'the primary to take back', 30_000);
    }));
    await backup.close();
    frozen['grace-rtmp'].push(await frozenDuring(rtmpViewer.page, async () => {
      await kill(encoder);
      await waitFor(() => srv.registry.waitingStreams().some((s) => `${s.app}/${s.stream}` === RTMP_STREAM), 'the RTMP stream to wait', 15_000);
      encoder = encoderOf(rtmpUrl);
      await waitFor(() => activeSource(srv, RTMP_STREAM) === 'primary', 'the restarted encoder to feed the viewer', 30_000);
    }));
    console.log(`run ${run}/${runs}: ${SCENARIOS.map((s) => `${s} ${Math.round(frozen[s][run - 1] ?? 0)} ms`).join(' · ')}`);
  }
  const viewerReconnects = { whip: await reconnects(viewer.page), rtmp: await reconnects(rtmpViewer.page) };
  await Promise.all([viewer.close(), rtmpViewer.close(), primary.close(), kill(encoder)]);

  console.log('\n=== frozen video in a Chromium viewer, longest gap between presented frames (ms) ===');
  const summaries = Object.fromEntries(SCENARIOS.map((s) => [s, summarize(frozen[s], 0)]));
  const rows: Cell[][] = SCENARIOS.map((s) => [s, summaries[s]?.n, summaries[s]?.min, summaries[s]?.p50, summaries[s]?.p95, summaries[s]?.max]);
  printTable(['scenario', 'n', 'min', 'p50', 'p95', 'max'], rows);
  console.log(`play.html reconnects (new WHEP sessions; 0 expected): WHIP viewer ${viewerReconnects.whip}, RTMP viewer ${viewerReconnects.rtmp}`);
  const { file, latest } = await writeResults('failover', {
    name: 'failover',
    startedAt: new Date().toISOString(),
    machine,
    config: { runs, graceSeconds: 10, failoverMs: 500, holdSeconds, chromium: b.version },
    summary: summaries,
    viewerReconnects,
    runs: frozen,
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

runBench('failover', main, async () => {
  await Promise.all([...encoders].map(kill));
  await browser?.close();
  if (server) await closeServer(server);
});
