// bench:latency — glass-to-glass latency of whipcast, measured in a real browser, against a floor from the same run.
//
// The real server runs in this process; one headless Chromium (Debian's, playwright-core, fake media) hosts every
// page, each in its own context (its own renderer process). Publisher and player are on one machine and share its
// clock. Every player measures with the demo's own code (web-demo/latency.js, as play.html shows it, keeping every
// sample with ?samples=all): each displayed frame (requestVideoFrameCallback) whose time code reads back gives
// latency = the frame's expected display time − the time drawn into it, both on the server's clock. Paths (--path):
//   - whip:  web-demo/publish.html?source=calibrator (the time code drawn into every frame, canvas.captureStream(30))
//            publishes over WHIP; play.html plays over WHEP.
//   - floor: the same calibrator sent from one page's RTCPeerConnection to another page's (the same page structure
//            and codec preference, no server), measured the same way. whipcast's p50 / the floor's p50 is the
//            figure to compare across runs: the machine is noisy, absolute numbers from different runs are not.
//   - rtmp:  a generator thread renders the same pattern into raw 1280×720 frames (bench/lib/rtmp-timecode.ts,
//            stamped with Date.now()), FFmpeg encodes them with x264 (--bframes, default 2: the server's transcode
//            path; 0: the copy path) + AAC and pushes RTMP to the server; play.html plays over WHEP. Its own floor
//            ("rtmp floor"): the same generator and encoder into a low-delay FFmpeg decoder, no server.
//   - hls:   the whip publisher; play.html?protocol=hls plays /live/{app}/{stream}.m3u8 with hls.js (the SFU egress
//            FFmpeg, the HLS muxer and an ordinary HLS player's buffer are all in this figure).
// Time to first frame: play.html's own figure (from just before its request to the first presented frame), for the
// first join and for --joins more joins after the window (the players of an RTMP stream wait for a key frame).
// CPU over each window: this Node process (server + bench driver), the mediasoup worker(s), the server's FFmpeg
// processes and the encoder, the Chromium processes by type (browser, renderer, gpu, utility), in % of one core.
//
//   node dist/bench/latency.js --seconds 30 --warmup 5 --codec H264 --path whip,floor
//   node dist/bench/latency.js --path rtmp --bframes 2      (and --bframes 0 for the copy path)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, type BenchBrowser } from './lib/browser.js';
import { histogramSvg, writeChart } from './lib/chart.js';
import { chromiumWindow, markReader, pageCodec, readerState, receiverCounters, receiverWindow, sampleChromium, startFloor, type ReaderState, type ReceiverWindow } from './lib/browser-latency.js';
import { intFlag, parseFlags, runBench } from './lib/cli.js';
import { BenchProcesses, cpuWindow, reapChildren, runFloor, sampleCpu, type CpuWindow, type FloorResult } from './lib/latency.js';
import { joinOnce, settle, stopSession, waitForFirstFrame, waitForLive } from './lib/pages.js';
import { childProcesses, machineInfo } from './lib/proc.js';
import { percentile, printTable, round, summarize, writeResults, type Cell, type Distribution, type Summary } from './lib/report.js';
import { spawnEncoder, type EncoderSettings } from './lib/rtmp-generator.js';
import { closeServer, sleep, startBenchServer, type WhipcastServer } from './lib/server.js';

const PATHS = ['whip', 'floor', 'rtmp', 'hls'] as const;
type PathName = (typeof PATHS)[number];

const flags = parseFlags(
  {
    seconds: { type: 'string', default: '30', help: 'measurement window per path, seconds' },
    warmup: { type: 'string', default: '5', help: 'seconds of playback before each window (not counted)' },
    path: { type: 'string', default: 'whip,floor', help: `paths to measure, in this order (${PATHS.join(', ')})` },
    codec: { type: 'string', default: 'H264', help: 'video codec of the browser publisher and the floor (H264, VP8, VP9)' },
    joins: { type: 'string', default: '5', help: 'more play.html joins after each window, for time to first frame' },
    rounds: { type: 'string', default: '1', help: 'run the paths this many times, interleaved (the ratio is then taken per round and pooled)' },
    bframes: { type: 'string', default: '2', help: 'rtmp: x264 B-frames (2: transcode path; 0: copy path)' },
    tune: { type: 'string', default: 'zerolatency', help: 'rtmp: x264 -tune ("none" for none)' },
    preset: { type: 'string', default: 'veryfast', help: 'rtmp: x264 preset' },
    kbps: { type: 'string', default: '2500', help: 'rtmp: x264 bitrate' },
    gop: { type: 'string', default: '30', help: 'rtmp: key-frame interval in frames (30 fps)' },
    'no-audio': { type: 'boolean', help: 'rtmp: video only (no AAC track: the player then has no audio to keep the video in sync with)' },
    'no-lipsync': { type: 'boolean', help: 'players ask for audio and video in separate streams (WHEP ?lipsync=0): video is not held back for the audio' },
    chart: { type: 'boolean', help: 'also write a PNG histogram of the latencies (results/latency-latest.png)' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/latency.js [options]',
);
const seconds = intFlag('seconds', flags.seconds, 1);
const warmup = intFlag('warmup', flags.warmup, 0);
const joins = intFlag('joins', flags.joins, 0);
const rounds = intFlag('rounds', flags.rounds, 1);
const codec = flags.codec.toUpperCase();
const paths = flags.path.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
for (const p of paths) {
  if (!(PATHS as readonly string[]).includes(p)) {
    console.error(`--path: unknown path "${p}" (${PATHS.join(', ')})`);
    process.exit(2);
  }
}
const rtmpSettings: EncoderSettings = {
  bframes: intFlag('bframes', flags.bframes, 0),
  audio: !flags['no-audio'],
  kbps: intFlag('kbps', flags.kbps, 100),
  gop: intFlag('gop', flags.gop, 1),
  preset: flags.preset,
  ...(flags.tune === 'none' ? {} : { tune: flags.tune }),
};
const JOIN_TIMEOUT_MS = 15_000;
/** The player's RTCPeerConnection: play.html's, and the floor receiver's (the same expression). */
const PLAYER_PC = 'window.whipcast?.session?.pc';
/** Stream names by path: each path publishes its own. */
const STREAMS = { whip: 'bench/latency', rtmp: 'bench/latency-rtmp', hls: 'bench/latency-hls' } as const;

interface PathResult extends Distribution {
  /** The path, with "#round" when there are several rounds. */
  path: string;
  kind: PathName;
  round: number;
  codec?: string;
  samples: number;
  framesShown: number;
  unreadable: number;
  fps: number;
  /** Time to first frame of the first join, and of the joins after the window. */
  ttffMs?: number;
  joins?: Summary & { failures: number; runs: number[] };
  /** What the player's RTCPeerConnection received and decoded over the window (WebRTC players). */
  receiver?: ReceiverWindow;
  /** What the server decided for an RTMP stream (video+audio, audio, none). */
  transcode?: string;
  cpu: CpuWindow & { chromium: Record<string, number> };
  series: number[];
}

/** One path's window, before main() labels it with its round. */
type Measurement = Omit<PathResult, 'kind' | 'round'>;

let server: WhipcastServer | undefined;
let browser: BenchBrowser | undefined;
let procs: BenchProcesses | undefined;
let tmp: string | undefined;

async function main(): Promise<void> {
  const machine = machineInfo();
  const command = `node ${process.argv.slice(1).map((a) => a.replace(/^.*\/dist\//, 'dist/')).join(' ')}`;
  console.log(`latency: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalMiB} MiB, node ${machine.node}, kernel ${machine.kernel}`);
  console.log(`command: ${command}  (paths ${paths.join(',')}, codec ${codec}, ${warmup}s warm-up + ${seconds}s window each, ${joins} more joins)`);
  server = await startBenchServer({ workers: 1, logLevel: flags['log-level'] });
  browser = await launchChromium();
  tmp = mkdtempSync(join(tmpdir(), 'whipcast-bench-latency-'));
  procs = new BenchProcesses(tmp);
  console.log(`chromium ${browser.version} (one browser, one context per page)`);

  const results: PathResult[] = [];
  let rtmpFloor: FloorResult | undefined;
  for (let round = 1; round <= rounds; round++) {
    for (const kind of paths as PathName[]) {
      const measured = kind === 'floor' ? await floorPath(browser, server) : kind === 'rtmp' ? await rtmpPath(browser, server, procs) : await publishedPath(browser, server, kind);
      const r: PathResult = { ...measured, kind, round, path: rounds > 1 ? `${kind}#${round}` : kind };
      results.push(r);
      console.log(`${r.path}: ${r.samples} samples (${r.unreadable} unreadable of ${r.framesShown} shown, ${r.fps} fps), p50 ${fmt(r.p50)} p95 ${fmt(r.p95)} p99 ${fmt(r.p99)} ms; first frame ${fmt(r.ttffMs)} ms, joins p50 ${fmt(r.joins?.p50)} ms`);
      if (kind === 'rtmp' && !rtmpFloor) {
        console.log(`rtmp floor: the same generator and x264 into a low-delay FFmpeg decoder, no server (${warmup}s + ${seconds}s)`);
        rtmpFloor = await runFloor(procs, rtmpSettings, warmup, seconds);
        console.log(`rtmp floor: p50 ${fmt(rtmpFloor.latency.p50)} p95 ${fmt(rtmpFloor.latency.p95)} ms (${rtmpFloor.latency.frames} frames), encoder ${fmt(rtmpFloor.encoderCpu)} % CPU`);
      }
    }
  }

  console.log(`\n=== glass-to-glass latency (ms), ${seconds}s window; time to first frame (ms); CPU in % of one core ===`);
  const rows: Cell[][] = results.map((r) => [
    r.path,
    shortCodec(r.codec),
    r.samples,
    r.unreadable,
    r.fps,
    r.receiver?.decodedFps,
    r.receiver?.kbps,
    r.receiver?.jitterBufferMs,
    r.receiver?.processingMs,
    r.p50,
    r.p95,
    r.p99,
    r.ttffMs,
    r.joins?.p50,
    r.joins?.p95,
    r.cpu.node,
    r.cpu.mediasoup,
    round(Object.entries(r.cpu.processes).filter(([k]) => k !== 'encoder').reduce((sum, [, v]) => sum + (v ?? 0), 0), 1),
    r.cpu.processes.encoder,
    r.cpu.chromium.renderer,
    r.cpu.chromium.gpu,
    r.cpu.chromium.total,
    r.cpu.machineBusy,
  ]);
  if (rtmpFloor) {
    const l = rtmpFloor.latency;
    rows.push(['rtmp floor', `x264 -bf ${rtmpSettings.bframes}`, l.frames, l.unreadable, rtmpFloor.window.decodedFps, rtmpFloor.window.decodedFps, undefined, undefined, undefined, l.p50, l.p95, l.p99, undefined, undefined, undefined, undefined, undefined, undefined, rtmpFloor.encoderCpu, undefined, undefined, undefined, undefined]);
  }
  printTable(['path', 'codec', 'samples', 'unread', 'fps shown', 'fps decoded', 'kbit/s', 'jb ms', 'proc ms', 'p50', 'p95', 'p99', 'ttff', 'joins p50', 'joins p95', 'node%', 'worker%', 'ffmpeg%', 'encoder%', 'renderer%', 'gpu%', 'chromium%', 'machine%'], rows);
  // Pooled over the rounds: every sample of a path, and the whip / floor ratio per round and pooled.
  const pooled = (kind: PathName) => {
    const all = results.filter((r) => r.kind === kind).flatMap((r) => r.series);
    return all.length > 0 ? { ...summarize(all, 1), p99: round(percentile(all, 99) ?? NaN, 1) } : undefined;
  };
  const pools = Object.fromEntries(paths.map((k) => [k, pooled(k as PathName)]));
  if (rounds > 1) {
    console.log(`\n=== pooled over ${rounds} rounds ===`);
    printTable(['path', 'samples', 'mean', 'p50', 'p95', 'p99'], Object.entries(pools).map(([k, v]) => [k, v?.n, v?.mean, v?.p50, v?.p95, v?.p99]));
  }
  const roundRatios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const w = results.find((r) => r.kind === 'whip' && r.round === round)?.p50;
    const f = results.find((r) => r.kind === 'floor' && r.round === round)?.p50;
    if (w !== undefined && f) roundRatios.push(round2(w / f));
  }
  const whipP50 = pools.whip?.p50;
  const floorP50 = pools.floor?.p50;
  const ratio = whipP50 !== undefined && floorP50 ? round2(whipP50 / floorP50) : undefined;
  if (ratio !== undefined && whipP50 !== undefined && floorP50 !== undefined) {
    const added = round(whipP50 - floorP50, 1);
    console.log(`\nwhipcast p50 / floor p50 = ${whipP50} / ${floorP50} = ${ratio}  (target ≤ 1.1; ${added >= 0 ? '+' : ''}${added} ms)${rounds > 1 ? `; per round: ${roundRatios.join(', ')}` : ''}`);
  }
  // Displayed frames land on the display's refresh (16.7 ms at 60 Hz), so latencies cluster in steps that far apart
  // and a median can jump a whole step between runs; the mean moves with the true difference.
  const whipMean = pools.whip?.mean;
  const floorMean = pools.floor?.mean;
  const meanRatio = whipMean !== undefined && floorMean ? round2(whipMean / floorMean) : undefined;
  if (meanRatio !== undefined && whipMean !== undefined && floorMean !== undefined) {
    const added = round(whipMean - floorMean, 1);
    console.log(`whipcast mean / floor mean = ${whipMean} / ${floorMean} = ${meanRatio}  (${added >= 0 ? '+' : ''}${added} ms; latencies cluster on the display's 16.7 ms refresh steps, so the mean is the steadier figure)`);
  }
  const rtmp = results.find((r) => r.kind === 'rtmp');
  const rtmpAdded = rtmp?.p50 !== undefined && rtmpFloor?.latency.p50 !== undefined ? round(rtmp.p50 - rtmpFloor.latency.p50, 1) : undefined;
  if (rtmp) console.log(`rtmp (x264 -bf ${rtmpSettings.bframes}${rtmpSettings.tune ? ` -tune ${rtmpSettings.tune}` : ''}, server path "${rtmp.transcode ?? '?'}"): p50 ${fmt(rtmp.p50)} ms, ${rtmp.fps} fps shown; the encoder alone (rtmp floor) ${fmt(rtmpFloor?.latency.p50)} ms: server + WebRTC + browser add ${fmt(rtmpAdded)} ms`);
  console.log('node% = this process (server + bench driver); worker% = mediasoup; ffmpeg% = the server\'s FFmpeg processes (bridge, egress, HLS); machine% = all cores busy');
  console.log('fps shown = frames the player displayed (requestVideoFrameCallback); fps decoded, kbit/s = its RTCPeerConnection\'s inbound-rtp; jb ms = mean jitter-buffer delay; proc ms = mean first packet → decoded');
  console.log('ttff = the first join\'s play.html firstFrameMs; joins = the joins after the window');

  const { file, latest } = await writeResults('latency', {
    name: 'latency',
    startedAt: new Date().toISOString(),
    command,
    machine,
    config: { seconds, warmup, joins, rounds, codec, paths, lipSync: !flags['no-lipsync'], rtmp: rtmpSettings, chromium: browser.version, browsers: 'one Chromium, one context per page' },
    summary: {
      ratioP50: ratio,
      ratioP50PerRound: roundRatios,
      ratioMean: meanRatio,
      pooled: pools,
      rtmpAddedP50: rtmpAdded,
      paths: results.map(({ series: _s, ...r }) => r),
      ...(rtmpFloor ? { rtmpFloor: { ...rtmpFloor, latency: { ...rtmpFloor.latency, series: undefined } } } : {}),
    },
    series: { ...Object.fromEntries(results.map((r) => [r.path, r.series])), ...(rtmpFloor ? { 'rtmp floor': rtmpFloor.latency.series } : {}) },
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
  if (flags.chart) {
    // HLS sits seconds behind: it gets a chart of its own rather than squashing the WebRTC paths into one bin.
    const sets = (kinds: PathName[]) => kinds.filter((k) => pools[k]).map((k) => ({ label: `${k} (p50 ${pools[k]?.p50} ms)`, values: results.filter((r) => r.kind === k).flatMap((r) => r.series) }));
    const webrtc = sets(['whip', 'floor', 'rtmp']);
    const hls = sets(['hls']);
    const machineLabel = `${machine.nproc} × ${machine.cpuModel}, Chromium ${browser.version}`;
    if (webrtc.length) console.log(`chart:   ${await writeChart('latency', histogramSvg(`glass-to-glass latency, ${machineLabel}`, 'ms', webrtc, 5), browser)}`);
    if (hls.length) console.log(`chart:   ${await writeChart('latency-hls', histogramSvg(`HLS glass-to-glass latency, ${machineLabel}`, 'ms', hls, 50), browser)}`);
  }
}

/** "video/H264 …profile-level-id=42e01f" → "H264 42e01f". */
function shortCodec(c: string | undefined): string {
  if (c === undefined) return '-';
  const name = c.split(' ')[0]?.replace(/^video\//, '') ?? c;
  const profile = /profile-level-id=(\w+)/.exec(c)?.[1];
  return profile ? `${name} ${profile}` : name;
}

const round2 = (x: number): number => round(x, 2);

const fmt = (x: number | undefined): string => (x === undefined ? '-' : String(round(x, 1)));

/** The server's FFmpeg processes (bridge, egress, HLS muxer: children of this process), by role. */
function serverFfmpegs(exclude: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of childProcesses()) {
    if (c.pid === exclude || !/ffmpeg$/.test(c.args[0] ?? '')) continue;
    const cmd = c.args.join(' ');
    const role = cmd.includes('-f hls') ? 'hls' : cmd.includes('-f sdp') ? 'egress' : cmd.includes('-f rtp') ? 'bridge' : 'ffmpeg';
    out[`${role}-${c.pid}`] = c.pid;
  }
  return out;
}

interface Measured {
  state: ReaderState;
  cpu: PathResult['cpu'];
  windowMs: number;
  receiver?: PathResult['receiver'];
}

/**
 * Plays the measurement window on a page whose reader is installed; CPU over the same window, and the frames the
 * page's RTCPeerConnection (`pcExpression`, if any) received and decoded meanwhile.
 */
async function measure(page: Page, srv: WhipcastServer, options: { encoderPid?: number; pcExpression?: string } = {}): Promise<Measured> {
  const { encoderPid, pcExpression } = options;
  await sleep(warmup * 1000);
  await markReader(page);
  const pids = { ...serverFfmpegs(encoderPid), ...(encoderPid ? { encoder: encoderPid } : {}) };
  const framesA = pcExpression ? await receiverCounters(page, pcExpression) : undefined;
  const a = await sampleCpu(pids, srv.sfu);
  const ca = sampleChromium();
  await sleep(seconds * 1000);
  const state = await readerState(page);
  const b = await sampleCpu(pids, srv.sfu);
  const cb = sampleChromium();
  const framesB = pcExpression ? await receiverCounters(page, pcExpression) : undefined;
  const cpu = cpuWindow(a, b);
  const receiver = framesA && framesB ? receiverWindow(framesA, framesB, cpu.windowMs) : undefined;
  return { state, cpu: { ...cpu, chromium: chromiumWindow(ca, cb, cpu.windowMs) }, windowMs: cpu.windowMs, ...(receiver ? { receiver } : {}) };
}

function result(path: string, codecName: string | undefined, m: Measured, extra: Partial<Measurement> = {}): Measurement {
  const s = summarize(m.state.samples, 1);
  const p99 = percentile(m.state.samples, 99);
  return {
    path,
    codec: codecName,
    samples: m.state.samples.length,
    framesShown: m.state.shown,
    unreadable: m.state.unreadable,
    fps: round(m.state.shown / (m.windowMs / 1000), 1),
    p50: s.p50,
    p95: s.p95,
    p99: p99 === undefined ? undefined : round(p99, 1),
    min: s.min,
    max: s.max,
    mean: s.mean,
    ...(m.receiver ? { receiver: m.receiver } : {}),
    ...extra,
    cpu: m.cpu,
    series: m.state.samples.map((x) => round(x, 1)),
  };
}

/** Opens the player, measures the window, then `joins` more joins for time to first frame. */
async function play(b: BenchBrowser, srv: WhipcastServer, stream: string, options: { protocol?: 'hls'; encoderPid?: number }): Promise<Omit<Measurement, 'path' | 'codec'> & { received?: string }> {
  const player = await b.newPage();
  const extra: Record<string, string> = { ...(options.protocol ? { protocol: options.protocol } : {}), ...(flags['no-lipsync'] ? { lipsync: '0' } : {}) };
  const query = { stream, autoplay: '1', report: '0', samples: 'all', ...extra };
  let measured: Measured;
  let ttffMs: number;
  let received: string | undefined;
  try {
    await player.page.goto(`${srv.httpUrl}/play.html?${new URLSearchParams(query).toString()}`);
    ttffMs = await waitForFirstFrame(player.page, 30_000);
    measured = await measure(player.page, srv, { ...(options.encoderPid ? { encoderPid: options.encoderPid } : {}), ...(options.protocol ? {} : { pcExpression: PLAYER_PC }) });
    received = options.protocol ? undefined : await pageCodec(player.page, PLAYER_PC);
    await stopSession(player.page);
  } finally {
    await player.close();
  }
  const runs: number[] = [];
  let failures = 0;
  const room = srv.registry.get(...(stream.split('/') as [string, string]))?.room;
  for (let i = 0; i < joins; i++) {
    if (room && !options.protocol) await settle(room);
    const join = await joinOnce(b, srv.httpUrl, stream, JOIN_TIMEOUT_MS, extra);
    if ('firstFrameMs' in join) runs.push(join.firstFrameMs);
    else {
      failures++;
      console.warn(`  join ${i + 1}: ${join.error}`);
    }
  }
  const r = result('', undefined, measured, { ttffMs, ...(joins > 0 ? { joins: { ...summarize(runs, 0), failures, runs } } : {}) });
  return { ...r, received };
}

/** whip and hls: the calibrator published from publish.html over WHIP, played over WHEP or HLS. */
async function publishedPath(b: BenchBrowser, srv: WhipcastServer, path: 'whip' | 'hls'): Promise<Measurement> {
  const stream = STREAMS[path];
  const publisher = await b.newPage();
  try {
    await publisher.page.goto(`${srv.httpUrl}/publish.html?${new URLSearchParams({ source: 'calibrator', codec, autostart: '1', stream }).toString()}`);
    await waitForLive(srv, stream, publisher.page);
    const played = await play(b, srv, stream, path === 'hls' ? { protocol: 'hls' } : {});
    const sent = await pageCodec(publisher.page, 'window.whipcast?.session?.pc');
    await stopSession(publisher.page);
    const { received, ...r } = played;
    return { ...r, path, codec: received ?? sent };
  } finally {
    await publisher.close();
  }
}

/** rtmp: the generator's frames through x264 (+ AAC) pushed over RTMP, played over WHEP. */
async function rtmpPath(b: BenchBrowser, srv: WhipcastServer, processes: BenchProcesses): Promise<Measurement> {
  const stream = STREAMS.rtmp;
  const source = processes.source();
  const encoder = processes.track(spawnEncoder(source.fifo, rtmpSettings, `rtmp://127.0.0.1:${srv.rtmpPort}/${stream}`));
  try {
    await waitForLive(srv, stream);
    const transcode = srv.registry.list().find((s) => `${s.app}/${s.stream}` === stream)?.transcode;
    const { received, ...r } = await play(b, srv, stream, { ...(encoder.pid ? { encoderPid: encoder.pid } : {}) });
    return { ...r, path: 'rtmp', codec: received, ...(transcode ? { transcode } : {}) };
  } finally {
    await processes.stopSource(source);
    await processes.kill(encoder);
  }
}

async function floorPath(b: BenchBrowser, srv: WhipcastServer): Promise<Measurement> {
  const sender = await b.newPage();
  const receiver = await b.newPage();
  try {
    // Pages of the server's origin (any page: only the origin matters, for the web-demo modules and GET /time).
    await sender.page.goto(`${srv.httpUrl}/index.html`);
    await receiver.page.goto(`${srv.httpUrl}/index.html`);
    await startFloor(sender.page, receiver.page, codec);
    const m = await measure(receiver.page, srv, { pcExpression: PLAYER_PC });
    const negotiated = await pageCodec(receiver.page, PLAYER_PC);
    await sender.page.evaluate('(() => { window.__floor.calibrator.stop(); window.__floor.pc.close(); })()').catch(() => undefined);
    return result('floor', negotiated, m);
  } finally {
    await receiver.close();
    await sender.close();
  }
}

async function cleanup(): Promise<void> {
  await procs?.closeAll().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  if (server) await closeServer(server).catch(() => undefined);
  await reapChildren();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));

runBench('latency', main, cleanup);
