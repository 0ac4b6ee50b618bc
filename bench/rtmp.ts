// bench:rtmp — RTMP ingest: added latency RTMP-in → WebRTC-out, FFmpeg bridge CPU, WHEP time to first frame.
//
// For each RTMP path of the server's StreamPlan — video+audio (x264 -bf 2 + AAC: video re-encoded), audio (x264
// -bf 0 + AAC: video copied, audio to Opus), none (x264 -bf 0, no audio: everything copied) — at 1280×720, 30 fps,
// GOP 30, 2500 kbit/s, preset veryfast:
//  1. Glass to glass through the server. A worker thread renders raw frames whose luma carries Date.now() as
//     large blocks (bench/lib/rtmp-timecode.ts) into ffmpeg/x264 (+ AAC), which pushes RTMP to the real server,
//     in this process. A werift WHEP viewer reassembles the H264 it receives into frames, a long-running
//     low-delay ffmpeg decodes them, and the time code read back from each decoded frame gives now − capture.
//     The floor: the same generator and encoder (same arguments, output `-f flv pipe:1` instead of rtmp://),
//     the same decoder and reader, no server and no WebRTC. Server-added latency = path p50 − floor p50.
//  2. CPU of the server's bridge ffmpeg (/proc/<pid>/stat over the measurement window), the encoder's for
//     context, and the other processes involved.
//  3. WHEP time to first frame, K times with the stream running: POST → first complete IDR frame, and POST →
//     first frame out of a decoder (spawned before the POST) fed from that IDR on.
//  4. Lip sync in Chromium (--chromium-rounds, 0 skips it): the same generator through x264 -tune zerolatency
//     (+ AAC) played by play.html with lip sync on (the default) and with ?lipsync=0, interleaved, each round in
//     the other order. The page measures glass to glass from the generator's browser band; getStats gives the
//     audio and the video inbound-rtp's jitter-buffer delay (jitterBufferDelay / jitterBufferEmittedCount), so the
//     cost of lip sync (on p50 − off p50) can be told apart from the audio's own playout buffer. --compare DIST
//     also measures a server built from another tree (its dist/ directory, e.g. the previous commit's), in the same
//     rounds: before and after in one run.
//
//   node dist/bench/rtmp.js --seconds 20 --paths video+audio,audio,none --ttff-runs 8
//   node dist/bench/rtmp.js --paths '' --chromium-rounds 3 --compare /tmp/before/dist     (lip sync only, A/B)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { resolveConfig } from '../src/config/config.js';
import { startServer } from '../src/server.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { BenchProcesses, cpuWindow, flow, LatencyProbe, pidAlive, reapChildren, runFloor, sampleCpu, type CpuWindow, type FloorResult, type LatencyStats, type WindowFlow } from './lib/latency.js';
import { launchChromium, type BenchBrowser } from './lib/browser.js';
import { machineInfo } from './lib/proc.js';
import { printTable, round, summarize, writeResults, type Cell } from './lib/report.js';
import { playWindow, type BrowserWindow } from './lib/rtmp-browser.js';
import { spawnEncoder, type EncoderSettings, type GeneratorStats } from './lib/rtmp-generator.js';
import type { FrameDecoder } from './lib/rtmp-h264.js';
import { readBand, FPS, HEIGHT, WIDTH } from './lib/rtmp-timecode.js';
import { viewRtmp, type RtmpViewer } from './lib/rtmp-viewer.js';
import { freePortRange, sleep, waitFor, type WhipcastServer } from './lib/server.js';

const flags = parseFlags(
  {
    seconds: { type: 'string', default: '20', help: 'latency/CPU measurement window per path (and per floor)' },
    warmup: { type: 'string', default: '3', help: 'seconds after the first decoded frame before measuring' },
    paths: { type: 'string', default: 'video+audio,audio,none', help: 'RTMP paths to measure (video+audio, audio, none)' },
    'ttff-runs': { type: 'string', default: '8', help: 'measured WHEP joins per path' },
    'ttff-warmup': { type: 'string', default: '1', help: 'WHEP joins per path before measuring (not counted)' },
    'ttff-timeout-ms': { type: 'string', default: '10000', help: 'give up on one join after this long' },
    kbps: { type: 'string', default: '2500', help: 'x264 bitrate (-b:v)' },
    preset: { type: 'string', default: 'veryfast', help: 'x264 preset' },
    'chromium-rounds': { type: 'string', default: '2', help: 'Chromium lip-sync rounds (each: lip sync on and ?lipsync=0); 0 skips them' },
    'chromium-paths': { type: 'string', default: 'audio', help: 'RTMP paths played in Chromium (x264 -tune zerolatency)' },
    'chromium-seconds': { type: 'string', default: '15', help: 'measurement window of one Chromium viewer' },
    'chromium-warmup': { type: 'string', default: '6', help: 'seconds after its first frame before a Chromium viewer is measured (A/V sync settles)' },
    compare: { type: 'string', default: '', help: "another build's dist/ directory: its server is measured too in the Chromium rounds (before/after in one run)" },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/rtmp.js [options]',
);
const seconds = numberFlag('seconds', flags.seconds, 1);
const warmupSeconds = numberFlag('warmup', flags.warmup, 0);
const ttffRuns = intFlag('ttff-runs', flags['ttff-runs'], 0);
const ttffWarmup = intFlag('ttff-warmup', flags['ttff-warmup'], 0);
const ttffTimeoutMs = intFlag('ttff-timeout-ms', flags['ttff-timeout-ms'], 1000);
const kbps = intFlag('kbps', flags.kbps, 100);
const chromiumRounds = intFlag('chromium-rounds', flags['chromium-rounds'], 0);
const chromiumSeconds = numberFlag('chromium-seconds', flags['chromium-seconds'], 1);
const chromiumWarmup = numberFlag('chromium-warmup', flags['chromium-warmup'], 0);

type PathName = 'video+audio' | 'audio' | 'none';
const PATHS: Record<PathName, { bframes: number; audio: boolean; stream: string }> = {
  'video+audio': { bframes: 2, audio: true, stream: 'rtmp-video-audio' },
  audio: { bframes: 0, audio: true, stream: 'rtmp-audio' },
  none: { bframes: 0, audio: false, stream: 'rtmp-none' },
};
const paths = flags.paths.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
const chromiumPaths = flags['chromium-paths'].split(',').map((s) => s.trim()).filter((s) => s.length > 0);
for (const p of [...paths, ...chromiumPaths]) {
  if (!(p in PATHS)) {
    console.error(`--paths: unknown path "${p}" (known: ${Object.keys(PATHS).join(', ')})`);
    process.exit(2);
  }
}
const settingsOf = (path: PathName): EncoderSettings => ({ bframes: PATHS[path].bframes, audio: PATHS[path].audio, kbps, gop: 30, preset: flags.preset });

const tmp = mkdtempSync(join(tmpdir(), 'whipcast-bench-rtmp-'));

// Everything to stop on the way out, whatever happened.
const procs = new BenchProcesses(tmp);
const viewers = new Set<RtmpViewer>();
let server: WhipcastServer | undefined;
let compared: WhipcastServer | undefined;
let browser: BenchBrowser | undefined;

// ---------------------------------------------------------------------------------------------------------------
// Through the server

interface TtffRun {
  run: number;
  warmup: boolean;
  answerMs?: number;
  connectedMs?: number;
  firstVideoMs?: number;
  keyFramePacketMs?: number;
  keyFrameMs?: number;
  decodedMs?: number;
  /** Glass-to-glass latency of that first decoded frame. */
  firstFrameLatencyMs?: number;
  error?: string;
}

interface PathResult {
  path: PathName;
  settings: EncoderSettings;
  transcode?: string;
  planReason?: string;
  answeredCodec?: string;
  floor: FloorResult;
  latency: LatencyStats;
  serverAddedP50?: number;
  cpu: CpuWindow;
  /** Bridge CPU per frame it delivered in the window (ms), and what that is at a full 30 fps (% of one core). */
  bridgeMsPerFrame?: number;
  bridgeCpuAt30fps?: number;
  window: WindowFlow;
  bridgeRestarts: number;
  eventLoopDelayP99Ms: number;
  generator: GeneratorStats;
  viewer: { frames: number; incomplete: number };
  ttff: { runs: TtffRun[]; keyFrame: ReturnType<typeof summarize>; decoded: ReturnType<typeof summarize>; failures: number };
}

async function runPath(srv: WhipcastServer, path: PathName): Promise<PathResult> {
  const settings = settingsOf(path);
  const { stream } = PATHS[path];
  console.log(`\n[${path}] floor (no server): x264 -bf ${settings.bframes}${settings.audio ? ' + AAC' : ''}, ${warmupSeconds} s warm-up + ${seconds} s`);
  const floor = await runFloor(procs, settings, warmupSeconds, seconds);
  console.log(`[${path}] floor p50 ${floor.latency.p50 ?? '-'} ms p95 ${floor.latency.p95 ?? '-'} p99 ${floor.latency.p99 ?? '-'} (${floor.latency.frames} frames), encoder ${floor.encoderCpu ?? '-'} % CPU`);

  console.log(`[${path}] through the server: RTMP → bridge → mediasoup → WHEP (werift) → decoder`);
  const source = procs.source();
  const encoder = procs.track(spawnEncoder(source.fifo, settings, `rtmp://127.0.0.1:${srv.rtmpPort}/bench/${stream}`));
  const live = () => srv.registry.list().find((s) => s.app === 'bench' && s.stream === stream);
  const publish = () => srv.rtmp.list().find((p) => p.request.app === 'bench' && p.request.stream === stream);
  let viewer: RtmpViewer | undefined;
  let decoder: FrameDecoder | undefined;
  try {
    await waitFor(() => live() !== undefined && (publish()?.bridge?.pid ?? 0) > 0, `bench/${stream} live with a bridge`, 30_000);
    const plan = publish()?.plan;
    if (plan?.transcode !== path) console.warn(`[${path}] warning: the server chose transcode path "${plan?.transcode ?? '?'}" (${plan?.reason ?? '?'})`);

    // The latency viewer.
    const probe = new LatencyProbe(source);
    const dec = procs.decoder(probe.onBand);
    decoder = dec;
    let fed = false;
    viewer = await viewRtmp(`${srv.httpUrl}/whep/bench/${stream}`, (unit) => {
      if (!fed && !unit.idr) return;
      fed = true;
      dec.write(unit);
    });
    viewers.add(viewer);
    await waitFor(() => probe.readable > 0, 'the first decoded frame through the server', 20_000);
    await sleep(warmupSeconds * 1000);
    const bridgePid = publish()?.bridge?.pid;
    const restartsBefore = publish()?.bridge?.restartCount ?? 0;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const a = await sampleCpu({ bridge: bridgePid, encoder: encoder.pid, decoder: dec.pid }, srv.sfu);
    const genA = source.stats();
    loop.enable();
    probe.start();
    await sleep(seconds * 1000);
    const latency = probe.stop();
    loop.disable();
    const cpu = cpuWindow(a, await sampleCpu({ bridge: publish()?.bridge?.pid, encoder: encoder.pid, decoder: dec.pid }, srv.sfu));
    const window = flow(genA, source.stats(), latency.frames + latency.unreadable, cpu.windowMs);
    const delivered = latency.frames + latency.unreadable;
    const bridgeMs = cpu.processMs.bridge;
    const bridgeMsPerFrame = bridgeMs !== undefined && delivered > 0 ? round(bridgeMs / delivered, 2) : undefined;
    const bridgeCpuAt30fps = bridgeMsPerFrame !== undefined ? round((bridgeMsPerFrame * FPS) / 10, 1) : undefined;
    const bridgeRestarts = (publish()?.bridge?.restartCount ?? 0) - restartsBefore;
    const viewerStats = { frames: viewer.frames.frames, incomplete: viewer.frames.incomplete };
    const answeredCodec = viewer.answeredCodec;
    await viewer.close();
    viewers.delete(viewer);
    viewer = undefined;
    await procs.closeDecoder(dec);
    decoder = undefined;
    const serverAddedP50 = latency.p50 !== undefined && floor.latency.p50 !== undefined ? round(latency.p50 - floor.latency.p50, 1) : undefined;
    console.log(
      `[${path}] transcode=${plan?.transcode ?? '?'}: p50 ${latency.p50 ?? '-'} ms p95 ${latency.p95 ?? '-'} p99 ${latency.p99 ?? '-'} (${latency.frames} frames, ${latency.unreadable} unreadable, ${latency.missing} missing); ` +
        `server-added p50 ${serverAddedP50 ?? '-'} ms; bridge ${cpu.processes.bridge ?? '-'} % CPU (${bridgeMsPerFrame ?? '-'} ms/frame), encoder ${cpu.processes.encoder ?? '-'} %; ` +
        `decoded ${window.decodedFps} fps, generator skipped ${window.generatorSkipped}`,
    );

    // Time to first frame, the stream still running.
    const runs: TtffRun[] = [];
    for (let i = 0; i < ttffWarmup + ttffRuns; i++) {
      const warm = i < ttffWarmup;
      const run = warm ? i - ttffWarmup : i - ttffWarmup + 1;
      const r = await ttffRun(`${srv.httpUrl}/whep/bench/${stream}`);
      runs.push({ run, warmup: warm, ...r });
      console.log(
        `[${path}] ttff ${warm ? 'warm-up' : `${run}/${ttffRuns}`}: answer ${fmt(r.answerMs)} connected ${fmt(r.connectedMs)} first RTP ${fmt(r.firstVideoMs)} ` +
          `IDR frame ${fmt(r.keyFrameMs)} decoded ${fmt(r.decodedMs)} ms${r.error ? ` (${r.error})` : ''}`,
      );
      // A random pause, so that joins land at every phase of the 1 s GOP.
      await sleep(300 + Math.random() * 1000);
    }
    const measured = runs.filter((r) => !r.warmup);
    const values = (pick: (r: TtffRun) => number | undefined) => measured.map(pick).filter((x): x is number => x !== undefined);

    return {
      path,
      settings,
      transcode: plan?.transcode,
      planReason: plan?.reason,
      answeredCodec,
      floor,
      latency,
      serverAddedP50,
      cpu,
      bridgeMsPerFrame,
      bridgeCpuAt30fps,
      window,
      bridgeRestarts,
      eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 1),
      generator: source.stats(),
      viewer: viewerStats,
      ttff: { runs, keyFrame: summarize(values((r) => r.keyFrameMs)), decoded: summarize(values((r) => r.decodedMs)), failures: measured.filter((r) => r.decodedMs === undefined).length },
    };
  } finally {
    if (viewer) {
      await viewer.close().catch(() => undefined);
      viewers.delete(viewer);
    }
    if (decoder) await procs.closeDecoder(decoder);
    const bridgePid = publish()?.bridge?.pid;
    await procs.stopSource(source);
    await procs.kill(encoder);
    await waitFor(() => live() === undefined && publish() === undefined, `bench/${stream} offline`, 15_000).catch((e: unknown) => console.warn(`[${path}] ${(e as Error).message}`));
    await waitFor(() => !pidAlive(bridgePid), 'the bridge ffmpeg to exit', 10_000).catch((e: unknown) => console.warn(`[${path}] ${(e as Error).message}`));
  }
}

async function ttffRun(url: string): Promise<Omit<TtffRun, 'run' | 'warmup'>> {
  let decodedAt: number | undefined;
  let firstFrameLatencyMs: number | undefined;
  // The decoder is up before the POST: its start-up is not part of a join.
  const decoder = procs.decoder((band, atMs) => {
    if (decodedAt !== undefined) return;
    decodedAt = performance.now();
    const code = readBand(band);
    if (code) firstFrameLatencyMs = atMs - code.timeMs;
  });
  let viewer: RtmpViewer | undefined;
  try {
    await sleep(300);
    let fed = false;
    viewer = await viewRtmp(url, (unit) => {
      if (!fed && !unit.idr) return;
      fed = true;
      decoder.write(unit);
    });
    viewers.add(viewer);
    const t = viewer.timings;
    const deadline = performance.now() + ttffTimeoutMs;
    while (decodedAt === undefined && performance.now() < deadline) await sleep(2);
    const since = (x: number | undefined) => (x === undefined ? undefined : round(x - t.postAt, 1));
    return {
      answerMs: since(t.answerAt),
      connectedMs: since(t.connectedAt),
      firstVideoMs: since(t.firstVideoAt),
      keyFramePacketMs: since(t.firstIdrPacketAt),
      keyFrameMs: since(t.firstIdrFrameAt),
      decodedMs: since(decodedAt),
      ...(firstFrameLatencyMs === undefined ? {} : { firstFrameLatencyMs }),
      ...(decodedAt === undefined ? { error: `no decoded frame within ${ttffTimeoutMs} ms` } : {}),
    };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    if (viewer) {
      await viewer.close().catch(() => undefined);
      viewers.delete(viewer);
    }
    await procs.closeDecoder(decoder);
  }
}

const fmt = (x: number | undefined): string => (x === undefined ? '-' : String(round(x, 0)));

// ---------------------------------------------------------------------------------------------------------------
// Lip sync in Chromium

interface ChromiumWindow extends BrowserWindow {
  /** Which server: "this" build, or "compare" (--compare). */
  server: string;
  path: PathName;
  round: number;
  transcode?: string;
}

/** One round of one path on one server: an encoder (x264 -tune zerolatency) and a Chromium viewer per lip-sync setting. */
async function chromiumRound(b: BenchBrowser, srv: WhipcastServer, label: string, path: PathName, round: number): Promise<ChromiumWindow[]> {
  const settings: EncoderSettings = { ...settingsOf(path), tune: 'zerolatency' };
  const stream = `${PATHS[path].stream}-chromium`;
  const source = procs.source();
  const encoder = procs.track(spawnEncoder(source.fifo, settings, `rtmp://127.0.0.1:${srv.rtmpPort}/bench/${stream}`));
  const live = () => srv.registry.list().find((s) => s.app === 'bench' && s.stream === stream);
  const out: ChromiumWindow[] = [];
  try {
    await waitFor(() => live() !== undefined, `bench/${stream} live`, 30_000);
    const transcode = live()?.transcode;
    // Every other round the other way round, so neither setting always comes first.
    const order = round % 2 === 1 ? [true, false] : [false, true];
    for (const lipSync of order) {
      const w = await playWindow(b, srv.httpUrl, `bench/${stream}`, lipSync, chromiumWarmup * 1000, chromiumSeconds * 1000);
      const r: ChromiumWindow = { server: label, path, round, ...(transcode ? { transcode } : {}), ...w };
      out.push(r);
      console.log(
        `[chromium ${label} ${path} #${round}] lip sync ${lipSync ? 'on ' : 'off'}: p50 ${fmt(w.p50)} p95 ${fmt(w.p95)} ms (${w.frames} frames, ${w.fps} fps), ` +
          `jitter buffer audio ${w.audio?.jitterBufferMs ?? '-'} (target ${w.audio?.targetMs ?? '-'}) video ${w.video?.jitterBufferMs ?? '-'} ms, ` +
          `audio concealed ${w.audio?.concealedPct ?? '-'} % stretched ${w.audio?.stretchedPct ?? '-'} %${w.error ? ` (${w.error})` : ''}`,
      );
    }
  } finally {
    await procs.stopSource(source);
    await procs.kill(encoder);
    await waitFor(() => live() === undefined, `bench/${stream} offline`, 15_000).catch((e: unknown) => console.warn(`[chromium] ${(e as Error).message}`));
  }
  return out;
}

interface ChromiumSummary {
  server: string;
  path: PathName;
  lipSync: boolean;
  windows: number;
  frames: number;
  /** Over all the windows' samples pooled. */
  p50?: number;
  p95?: number;
  /** Per window. */
  p50s: (number | undefined)[];
  audioJitterBufferMs: (number | undefined)[];
  videoJitterBufferMs: (number | undefined)[];
  audioConcealedPct: (number | undefined)[];
}

function summarizeChromium(windows: (ChromiumWindow & { series: number[] })[]): ChromiumSummary[] {
  const keyOf = (w: ChromiumWindow): string => `${w.server}|${w.path}|${w.lipSync ? 1 : 0}`;
  const keys = [...new Set(windows.map(keyOf))];
  return keys.map((key) => {
    const ws = windows.filter((w) => keyOf(w) === key);
    const pooled = ws.flatMap((w) => w.series);
    const first = ws[0] as ChromiumWindow;
    const { p50, p95 } = summarize(pooled, 1);
    return {
      server: first.server,
      path: first.path,
      lipSync: first.lipSync,
      windows: ws.length,
      frames: pooled.length,
      ...(p50 !== undefined ? { p50 } : {}),
      ...(p95 !== undefined ? { p95 } : {}),
      p50s: ws.map((w) => w.p50),
      audioJitterBufferMs: ws.map((w) => w.audio?.jitterBufferMs),
      videoJitterBufferMs: ws.map((w) => w.video?.jitterBufferMs),
      audioConcealedPct: ws.map((w) => w.audio?.concealedPct),
    };
  });
}

const span = (xs: (number | undefined)[]): string | undefined => {
  const v = xs.filter((x): x is number => x !== undefined);
  if (v.length === 0) return undefined;
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return lo === hi ? String(round(lo, 0)) : `${round(lo, 0)}–${round(hi, 0)}`;
};

/** Another build's server (--compare): its own modules, loaded from its dist/ directory. */
async function startCompared(dist: string): Promise<WhipcastServer> {
  const { resolveConfig: resolve } = (await import(join(dist, 'src/config/config.js'))) as { resolveConfig: typeof resolveConfig };
  const { startServer: start } = (await import(join(dist, 'src/server.js'))) as { startServer: typeof startServer };
  return start(await benchConfig(resolve));
}

async function benchConfig(resolve: typeof resolveConfig): Promise<ReturnType<typeof resolveConfig>> {
  return resolve({
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    rtc: { port: await freePortRange(1), listenIps: [{ ip: '127.0.0.1' }], workers: 1 },
    log: { level: flags['log-level'] },
  });
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const load = loadavg().map((x) => round(x, 2));
  console.log(`rtmp: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}; load average ${load.join(' ')} at start`);
  console.log(`${WIDTH}x${HEIGHT} ${FPS} fps, x264 -preset ${flags.preset} -g 30 -b:v ${kbps}k; paths ${paths.join(', ')}; ${warmupSeconds} s warm-up + ${seconds} s per measurement; ${ttffRuns} TTFF runs (+${ttffWarmup})`);

  // Self-check: time codes through x264 (with B-frames, the hardest case) and back, before trusting any number.
  console.log('\nself-check: time codes through x264 -bf 2 and the decoder, no server (1 s warm-up + 2 s)');
  const check = await runFloor(procs, { ...settingsOf('video+audio'), audio: false }, 1, 2);
  const expected = 2 * FPS;
  // Correctness, not speed (a loaded machine may drop frames): enough frames, every one read back exactly.
  const ok = check.latency.frames >= FPS && check.latency.mismatched === 0 && check.latency.unreadable === 0;
  console.log(
    `self-check: ${check.latency.frames} frames read back exactly (CRC ok, equal to the stamped ms: error 0), ${check.latency.unreadable} unreadable, ` +
      `${check.latency.mismatched} mismatched (max error ${check.latency.maxErrorMs} ms), ${check.latency.missing} missing of ~${expected}: ${ok ? 'OK' : 'FAILED'}`,
  );
  if (!ok) throw new Error('self-check failed: the time codes do not survive the encode/decode round trip');

  server = await startServer(await benchConfig(resolveConfig));
  console.log(`server: ${server.httpUrl}, RTMP 127.0.0.1:${server.rtmpPort}, 1 mediasoup worker`);
  // fluent-ffmpeg's one-off capability probe (warmUpFfmpeg) runs at startup: let it finish before measuring.
  await sleep(2000);

  const results: PathResult[] = [];
  for (const path of paths as PathName[]) results.push(await runPath(server, path));

  const chromiumWindows: (ChromiumWindow & { series: number[] })[] = [];
  let chromiumVersion: string | undefined;
  if (chromiumRounds > 0 && chromiumPaths.length > 0) {
    browser = await launchChromium();
    chromiumVersion = browser.version;
    const servers: { label: string; srv: WhipcastServer }[] = [{ label: 'this', srv: server }];
    if (flags.compare) {
      compared = await startCompared(flags.compare);
      servers.push({ label: 'compare', srv: compared });
      console.log(`compare: the server of ${flags.compare} at ${compared.httpUrl}`);
      await sleep(2000);
    }
    console.log(`\nchromium ${browser.version}: ${chromiumRounds} rounds of ${chromiumPaths.join(', ')} on ${servers.map((s) => s.label).join(' and ')}, x264 -tune zerolatency; ${chromiumWarmup} s warm-up + ${chromiumSeconds} s per viewer`);
    for (let round = 1; round <= chromiumRounds; round++) {
      // The servers take turns: each round starts with the other one.
      const turn = round % 2 === 1 ? servers : [...servers].reverse();
      for (const { label, srv } of turn) {
        for (const path of chromiumPaths as PathName[]) {
          for (const w of await chromiumRound(browser, srv, label, path, round)) chromiumWindows.push({ ...w, series: w.series ?? [] });
        }
      }
    }
  }
  const chromium = summarizeChromium(chromiumWindows);

  console.log(`\n=== RTMP ingest: latency, CPU, time to first frame (${WIDTH}x${HEIGHT} ${FPS} fps, ${kbps} kbit/s, ${seconds} s windows) ===`);
  const rows: Cell[][] = results.map((r) => [
    r.path,
    r.transcode,
    r.latency.p50,
    r.latency.p95,
    r.latency.p99,
    r.floor.latency.p50,
    r.serverAddedP50,
    r.cpu.processes.bridge,
    r.cpu.processes.encoder,
    r.ttff.keyFrame.p50,
    r.ttff.keyFrame.p95,
    r.ttff.decoded.p50,
    r.ttff.decoded.p95,
  ]);
  printTable(['path', 'plan', 'lat p50', 'p95', 'p99', 'floor p50', 'server+', 'bridge %', 'enc %', 'IDR p50', 'p95', 'dec p50', 'p95'], rows);
  console.log('(latency and TTFF in ms; CPU in % of one core; server+ = path p50 − floor p50; IDR = POST → first complete IDR frame; dec = POST → first decoded frame)');

  console.log('\n--- context ---');
  printTable(
    ['path', 'frames', 'unread', 'fps', 'skipped', 'floor p95', 'p99', 'fps', 'skipped', 'floor enc %', 'bridge ms/fr', '@30fps %', 'node %', 'mediasoup %', 'decoder %', 'busy %', 'other %', 'loop p99', 'ttff fail'],
    results.map((r) => [
      r.path,
      r.latency.frames,
      r.latency.unreadable,
      r.window.decodedFps,
      r.window.generatorSkipped,
      r.floor.latency.p95,
      r.floor.latency.p99,
      r.floor.window.decodedFps,
      r.floor.window.generatorSkipped,
      r.floor.encoderCpu,
      r.bridgeMsPerFrame,
      r.bridgeCpuAt30fps,
      r.cpu.node,
      r.cpu.mediasoup,
      r.cpu.processes.decoder,
      r.cpu.machineBusy,
      r.cpu.otherLoad,
      r.eventLoopDelayP99Ms,
      r.ttff.failures,
    ]),
  );
  console.log(
    '(frames/unread/fps/skipped: through the server, then the floor: frames decoded and read, unreadable bands, decoded fps, frames the generator had to skip because the encoder fell behind; ' +
      'bridge ms/fr = bridge CPU per delivered frame, @30fps = that at a full 30 fps; node % = this process: server + RTMP parsing + werift viewer + generator thread; ' +
      'busy = whole machine, % of all cores; other = busy time of processes not ours, % of one core; loop p99 = event-loop delay, ms)',
  );

  if (chromium.length > 0) {
    console.log(`\n=== Lip sync in Chromium (x264 -tune zerolatency, play.html; ${chromiumRounds} rounds of ${chromiumSeconds} s) ===`);
    printTable(
      ['server', 'path', 'lip sync', 'frames', 'p50', 'p95', 'p50 per round', 'lip-sync cost', 'audio jb', 'video jb', 'audio concealed %'],
      chromium.map((c) => {
        const off = chromium.find((o) => o.server === c.server && o.path === c.path && !o.lipSync);
        const cost = c.lipSync && c.p50 !== undefined && off?.p50 !== undefined ? round(c.p50 - off.p50, 1) : undefined;
        return [c.server, c.path, c.lipSync ? 'on' : 'off (?lipsync=0)', c.frames, c.p50, c.p95, span(c.p50s), cost, span(c.audioJitterBufferMs), span(c.videoJitterBufferMs), span(c.audioConcealedPct)];
      }),
    );
    console.log('(ms; p50/p95 over every window\'s samples pooled; per round, jb and concealed: range over the windows; lip-sync cost = on p50 − off p50; jb = getStats jitterBufferDelay / jitterBufferEmittedCount of the inbound-rtp over the window)');
  }

  const { file, latest } = await writeResults('rtmp', {
    name: 'rtmp',
    startedAt,
    machine: { ...machine, loadAverageAtStart: load, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) },
    config: {
      width: WIDTH, height: HEIGHT, fps: FPS, kbps, preset: flags.preset, gop: 30, seconds, warmupSeconds, ttffRuns, ttffWarmup, ttffTimeoutMs, paths,
      chromium: { rounds: chromiumRounds, paths: chromiumPaths, seconds: chromiumSeconds, warmup: chromiumWarmup, tune: 'zerolatency', version: chromiumVersion, ...(flags.compare ? { compare: flags.compare } : {}) },
    },
    selfCheck: { ok, ...check.latency, series: undefined },
    results,
    chromium: { summary: chromium, windows: chromiumWindows },
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

async function cleanup(): Promise<void> {
  for (const v of viewers) await v.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await procs.closeAll();
  await server?.close().catch(() => undefined);
  server = undefined;
  await compared?.close().catch(() => undefined);
  compared = undefined;
  rmSync(tmp, { recursive: true, force: true });
  await reapChildren();
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));

runBench('rtmp', main, cleanup);
