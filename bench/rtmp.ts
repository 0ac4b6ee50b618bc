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
//
//   node dist/bench/rtmp.js --seconds 20 --paths video+audio,audio,none --ttff-runs 8
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { resolveConfig } from '../src/config/config.js';
import { startServer } from '../src/server.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { BenchProcesses, cpuWindow, flow, LatencyProbe, pidAlive, reapChildren, runFloor, sampleCpu, type CpuWindow, type FloorResult, type LatencyStats, type WindowFlow } from './lib/latency.js';
import { machineInfo } from './lib/proc.js';
import { printTable, round, summarize, writeResults, type Cell } from './lib/report.js';
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

type PathName = 'video+audio' | 'audio' | 'none';
const PATHS: Record<PathName, { bframes: number; audio: boolean; stream: string }> = {
  'video+audio': { bframes: 2, audio: true, stream: 'rtmp-video-audio' },
  audio: { bframes: 0, audio: true, stream: 'rtmp-audio' },
  none: { bframes: 0, audio: false, stream: 'rtmp-none' },
};
const paths = flags.paths.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
for (const p of paths) {
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

  const config = resolveConfig({
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    rtc: { port: await freePortRange(1), listenIps: [{ ip: '127.0.0.1' }], workers: 1 },
    log: { level: flags['log-level'] },
  });
  server = await startServer(config);
  console.log(`server: ${server.httpUrl}, RTMP 127.0.0.1:${server.rtmpPort}, 1 mediasoup worker`);
  // fluent-ffmpeg's one-off capability probe (warmUpFfmpeg) runs at startup: let it finish before measuring.
  await sleep(2000);

  const results: PathResult[] = [];
  for (const path of paths as PathName[]) results.push(await runPath(server, path));

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

  const { file, latest } = await writeResults('rtmp', {
    name: 'rtmp',
    startedAt,
    machine: { ...machine, loadAverageAtStart: load, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) },
    config: { width: WIDTH, height: HEIGHT, fps: FPS, kbps, preset: flags.preset, gop: 30, seconds, warmupSeconds, ttffRuns, ttffWarmup, ttffTimeoutMs, paths },
    selfCheck: { ok, ...check.latency, series: undefined },
    results,
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

async function cleanup(): Promise<void> {
  for (const v of viewers) await v.close().catch(() => undefined);
  await procs.closeAll();
  await server?.close().catch(() => undefined);
  server = undefined;
  rmSync(tmp, { recursive: true, force: true });
  await reapChildren();
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));

runBench('rtmp', main, cleanup);
