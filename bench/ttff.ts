// bench:ttff — WHEP time to first frame.
//
// The real server runs in this process. Headless Chromium publishes over WHIP (web-demo/publish.html, fake
// camera, H264); its encoder answers the server's key-frame requests, so a new viewer gets a key frame at once
// rather than at the next periodic one. Then, K times each (interleaved):
//   - Chromium opens web-demo/play.html, waits until it has loaded and gone quiet, and clicks Play, as a user does;
//     the page records window.whipcast.firstFrameMs: from the click (offer creation included) to the first frame
//     the <video> element presents (requestVideoFrameCallback): offer + POST + ICE + DTLS + key frame + decode +
//     render, and the steps before it (offer created, answer received and applied, DTLS connected).
//   - a werift viewer (no decoder) measures from the POST to the answer, to DTLS connected, to the first video
//     RTP packet, and to the first packet of an H264 key frame (SPS/IDR).
//
// --loss N puts the Chromium viewer in a network namespace of its own (test/helpers/netns.ts) whose link loses N %
// of the packets both ways (--loss 0: the same namespace, a clean link); werift is not run then (it lives in
// this process). --dtls-role server makes the server take the DTLS server role as it did before it became the
// DTLS client (the viewer's offer says a=setup:active), to measure what the role costs.
//
//   node dist/bench/ttff.js --runs 10 [--loss 3] [--dtls-role server]
import { performance } from 'node:perf_hooks';
import { resolveConfig } from '../src/config/config.js';
import { startServer } from '../src/server.js';
import { EmulatedHost } from '../test/helpers/netns.js';
import { launchChromium, type BenchBrowser } from './lib/browser.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { joinOnce, settle, waitForLive, type JoinTiming } from './lib/pages.js';
import { machineInfo } from './lib/proc.js';
import { printTable, round, summarize, writeResults, type Cell, type Summary } from './lib/report.js';
import { closeServer, freePortRange, sleep, startBenchServer, type WhipcastServer } from './lib/server.js';
import { view } from './lib/webrtc.js';

const flags = parseFlags(
  {
    runs: { type: 'string', default: '10', help: 'measured joins per client (Chromium and werift)' },
    'warmup-runs': { type: 'string', default: '1', help: 'joins per client before measuring (not counted)' },
    codec: { type: 'string', default: 'H264', help: 'codec the Chromium publisher sends (H264, VP8, VP9)' },
    'gap-ms': { type: 'string', default: '1000', help: 'pause between joins' },
    'timeout-ms': { type: 'string', default: '15000', help: 'give up on one join after this long' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
    loss: { type: 'string', default: '', help: 'the Chromium viewer in a namespace whose link loses this % both ways (0: a clean one)' },
    'dtls-role': { type: 'string', default: 'client', help: 'the server\'s DTLS role: client (as it answers) or server (forced by the viewer)' },
  },
  'Usage: node dist/bench/ttff.js [options]',
);
const runs = intFlag('runs', flags.runs, 1);
const warmupRuns = intFlag('warmup-runs', flags['warmup-runs'], 0);
const gapMs = intFlag('gap-ms', flags['gap-ms'], 0);
const timeoutMs = intFlag('timeout-ms', flags['timeout-ms'], 1000);
const codec = flags.codec.toUpperCase();
const lossPercent = flags.loss === '' ? undefined : numberFlag('loss', flags.loss, 0);
if (flags['dtls-role'] !== 'client' && flags['dtls-role'] !== 'server') {
  console.error('--dtls-role: client or server');
  process.exit(2);
}
const dtlsRole = flags['dtls-role'];
/** Offers a=setup:active in every WHEP POST, so that the server answers passive (it is then the DTLS server). */
const SERVER_ROLE_SCRIPT = `(() => {
  const fetch = window.fetch;
  window.fetch = (input, init) => fetch.call(window, input, init && init.method === 'POST' && typeof init.body === 'string' && /\\/whep\\//.test(String(input))
    ? { ...init, body: init.body.replace(/a=setup:actpass/g, 'a=setup:active') } : init);
})()`;
const STREAM = 'bench/ttff';

interface ChromiumRun {
  run: number;
  warmup: boolean;
  firstFrameMs?: number;
  timing?: JoinTiming;
  error?: string;
}

interface WeriftRun {
  run: number;
  warmup: boolean;
  answerMs?: number;
  connectedMs?: number;
  firstVideoMs?: number;
  keyFrameMs?: number;
  error?: string;
}

let server: WhipcastServer | undefined;
let browser: BenchBrowser | undefined;
let viewerBrowser: BenchBrowser | undefined;
let viewerHost: EmulatedHost | undefined;

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(`ttff: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}; ${runs} runs per client (+${warmupRuns} warm-up), publisher codec ${codec}, viewer link ${lossPercent === undefined ? 'loopback' : `namespace, ${lossPercent} % loss`}, server DTLS ${dtlsRole}`);
  if (lossPercent === undefined) server = await startBenchServer({ workers: 1, logLevel: flags['log-level'] });
  else {
    viewerHost = await EmulatedHost.create();
    await viewerHost.shapeLink({ downLossPercent: lossPercent, upLossPercent: lossPercent });
    server = await startServer(
      resolveConfig({
        http: { host: viewerHost.gatewayAddress, port: 0 },
        rtmp: { host: '127.0.0.1', port: 0 },
        rtc: { port: await freePortRange(1), workers: 1, listenIps: [{ ip: viewerHost.gatewayAddress }] },
        log: { level: flags['log-level'] },
      }),
    );
  }
  const srv = server;
  browser = await launchChromium(viewerHost ? { secureOrigin: srv.httpUrl } : {});
  const viewerOptions = { ...(viewerHost ? { executablePath: viewerHost.wrapperFor('/usr/bin/chromium') } : {}), ...(dtlsRole === 'server' ? { initScript: SERVER_ROLE_SCRIPT } : {}) };
  viewerBrowser = Object.keys(viewerOptions).length > 0 ? await launchChromium(viewerOptions) : browser;
  const viewers = viewerBrowser;
  const runWerift = codec === 'H264' && lossPercent === undefined && dtlsRole === 'client';
  console.log(`chromium ${browser.version}${runWerift ? '' : ' (werift not run: it has no namespace or role of its own here)'}`);

  // The publisher: publish.html with the fake camera. Submit the form ourselves (works whether or not the page
  // knows ?autostart), then wait until the server sees video flowing.
  const publisher = await browser.newPage();
  await publisher.page.goto(`${srv.httpUrl}/publish.html?${new URLSearchParams({ stream: STREAM, codec }).toString()}`);
  await publisher.page.evaluate(() => (document.getElementById('form') as HTMLFormElement).requestSubmit());
  const room = await waitForLive(srv, STREAM, publisher.page);
  const video = room.producers.find((p) => p.kind === 'video');
  const videoCodec = video?.rtpParameters.codecs[0];
  console.log(`publisher live: ${room.producers.map((p) => `${p.kind} ${p.rtpParameters.codecs[0]?.mimeType ?? '?'}`).join(', ')}${videoCodec?.parameters ? ` (${JSON.stringify(videoCodec.parameters)})` : ''}`);
  await sleep(3000);

  const chromiumRuns: ChromiumRun[] = [];
  const weriftRuns: WeriftRun[] = [];
  for (let i = 0; i < warmupRuns + runs; i++) {
    const warmup = i < warmupRuns;
    const run = warmup ? i - warmupRuns : i - warmupRuns + 1;
    const c = await chromiumRun(viewers, srv.httpUrl);
    chromiumRuns.push({ run, warmup, ...c });
    await settle(room);
    await sleep(gapMs);
    // The werift viewer detects H264 key frames only.
    const w = runWerift ? await weriftRun(srv.httpUrl) : { error: 'not run' };
    weriftRuns.push({ run, warmup, ...w });
    if (runWerift) {
      await settle(room);
      await sleep(gapMs);
    }
    const tag = warmup ? 'warm-up' : `run ${run}/${runs}`;
    console.log(
      `${tag.padEnd(10)} chromium first frame ${c.firstFrameMs ?? `failed (${c.error ?? '?'})`} ms · werift answer ${fmt(w.answerMs)} connected ${fmt(w.connectedMs)} first video ${fmt(w.firstVideoMs)} key frame ${w.keyFrameMs === undefined ? `failed (${w.error ?? '?'})` : fmt(w.keyFrameMs)} ms`,
    );
  }
  await publisher.close();

  const measured = <T extends { warmup: boolean }>(list: T[]) => list.filter((r) => !r.warmup);
  const values = <T>(list: T[], pick: (r: T) => number | undefined) => list.map(pick).filter((x): x is number => x !== undefined);
  const c = measured(chromiumRuns);
  const w = measured(weriftRuns);
  const summaries: Record<string, Summary & { failures: number }> = {
    chromiumOffer: { ...summarize(values(c, (r) => r.timing?.offerMs), 0), failures: 0 },
    chromiumFetched: { ...summarize(values(c, (r) => r.timing?.fetchedMs), 0), failures: 0 },
    chromiumAnswer: { ...summarize(values(c, (r) => r.timing?.answerMs), 0), failures: 0 },
    chromiumConnected: { ...summarize(values(c, (r) => r.timing?.connectedMs), 0), failures: 0 },
    chromiumFirstFrame: { ...summarize(values(c, (r) => r.firstFrameMs), 0), failures: c.filter((r) => r.firstFrameMs === undefined).length },
    weriftAnswer: { ...summarize(values(w, (r) => r.answerMs), 1), failures: w.filter((r) => r.answerMs === undefined).length },
    weriftConnected: { ...summarize(values(w, (r) => r.connectedMs), 1), failures: w.filter((r) => r.connectedMs === undefined).length },
    weriftFirstVideo: { ...summarize(values(w, (r) => r.firstVideoMs), 1), failures: w.filter((r) => r.firstVideoMs === undefined).length },
    weriftKeyFrame: { ...summarize(values(w, (r) => r.keyFrameMs), 1), failures: w.filter((r) => r.keyFrameMs === undefined).length },
  };
  const labels: Record<string, string> = {
    chromiumOffer: 'Chromium: Play → offer created',
    chromiumFetched: 'Chromium: Play → answer received (POST)',
    chromiumAnswer: 'Chromium: Play → answer applied',
    chromiumConnected: 'Chromium: Play → DTLS connected',
    chromiumFirstFrame: 'Chromium: Play → first presented frame',
    weriftAnswer: 'werift: POST → 201 answer',
    weriftConnected: 'werift: POST → DTLS connected',
    weriftFirstVideo: 'werift: POST → first video RTP',
    weriftKeyFrame: 'werift: POST → first key-frame packet',
  };
  console.log('\n=== WHEP time to first frame (ms) ===');
  const rows: Cell[][] = Object.entries(summaries).map(([k, s]) => [labels[k], s.n, s.failures, s.min, s.p50, s.p95, s.max, s.mean]);
  printTable(['measure', 'n', 'failed', 'min', 'p50', 'p95', 'max', 'mean'], rows);

  const { file, latest } = await writeResults('ttff', {
    name: 'ttff',
    startedAt: new Date().toISOString(),
    machine,
    config: { runs, warmupRuns, gapMs, timeoutMs, publisherCodec: codec, viewerLossPercent: lossPercent ?? null, serverDtlsRole: dtlsRole, chromium: browser.version, publisher: room.producers.map((p) => ({ kind: p.kind, codec: p.rtpParameters.codecs[0] })) },
    summary: summaries,
    runs: { chromium: chromiumRuns, werift: weriftRuns },
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

const fmt = (x: number | undefined): string => (x === undefined ? '-' : String(round(x, 1)));

async function chromiumRun(b: BenchBrowser, httpUrl: string): Promise<Omit<ChromiumRun, 'run' | 'warmup'>> {
  return joinOnce(b, httpUrl, STREAM, timeoutMs);
}

async function weriftRun(httpUrl: string): Promise<Omit<WeriftRun, 'run' | 'warmup'>> {
  // Offer the H264 profiles Chromium may send (constrained baseline first), with our own payload types.
  const h264 = [
    { payloadType: 102, profileLevelId: '42e01f' },
    { payloadType: 104, profileLevelId: '42001f' },
    { payloadType: 106, profileLevelId: '4d001f' },
  ];
  let viewer: Awaited<ReturnType<typeof view>> | undefined;
  try {
    viewer = await view(`${httpUrl}/whep/${STREAM}`, { h264, keyFrames: true });
    const t = viewer.timings;
    const deadline = performance.now() + timeoutMs;
    while (t.firstKeyFrameAt === undefined && performance.now() < deadline) await sleep(5);
    const since = (x: number | undefined) => (x === undefined ? undefined : round(x - t.postAt, 1));
    return {
      answerMs: since(t.answerAt),
      connectedMs: since(t.connectedAt),
      firstVideoMs: since(t.firstVideoAt),
      keyFrameMs: since(t.firstKeyFrameAt),
      ...(t.firstKeyFrameAt === undefined ? { error: `no key frame within ${timeoutMs} ms` } : {}),
    };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    await viewer?.close().catch(() => undefined);
  }
}

async function cleanup(): Promise<void> {
  if (viewerBrowser !== browser) await viewerBrowser?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  if (server) await closeServer(server).catch(() => undefined);
  await viewerHost?.close().catch(() => undefined);
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));

runBench('ttff', main, cleanup);
