// bench:ladder: what transcoding costs in CPU. An RTMP source (FFmpeg's testsrc2, 1280x720 at 30 fps, x264 veryfast
// 2500 kbit/s, GOP 1 s, AAC) is published into the real server in this process, once per scenario (a fresh server
// each), and the CPU of the server's FFmpegs is measured over a window after a warm-up. The source's own encoder is
// this process's child too, and is left out. Each scenario's cost is its FFmpeg CPU minus that of "source only"
// (the RTMP bridge alone):
//   source only          the RTMP bridge (video copied, AAC → Opus)
//   360p / 180p          one always rendition: a decode, a scale, an x264 encode, Opus
//   3 renditions, shared 180p, 360p and 540p always renditions: one FFmpeg, one decode, split three ways
//   3 renditions, apart  the same as on-demand renditions (each its own FFmpeg and decode), started by HTTP-FLV
//                        players (whose feeds run the SFU egress too: its FFmpegs are counted separately)
//   WebRTC ladder        180p and 360p as simulcast layers of the stream's own track, made by an FFmpeg of their
//                        own (one decode; the bridge copies the source layer)
//
// Then the latency each rendition adds over the source (--latency-seconds, 0 skips it): a time-coded 720p30 RTMP
// source (bench/lib/rtmp-timecode.ts, x264 veryfast zerolatency, no audio) into a server with the 180p and 360p
// templates as a WebRTC ladder; one werift viewer at a time (the machine has two cores) plays the source layer, each
// ladder layer (pinned), and each rendition stream ({stream}_{id}, on demand); its H264 is decoded, scaled back up
// to 720p and the time code read: glass to glass, and what each adds over the source layer.
//
//   node dist/bench/ladder.js --seconds 15 --warmup 5 --latency-seconds 10
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/config.js';
import { startServer } from '../src/server.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { BenchProcesses, LatencyProbe, type LatencyStats } from './lib/latency.js';
import { childProcesses, machineInfo, processCpuMs } from './lib/proc.js';
import { spawnEncoder } from './lib/rtmp-generator.js';
import { viewRtmp, type RtmpViewer } from './lib/rtmp-viewer.js';
import { printTable, round, writeResults } from './lib/report.js';
import { closeServer, freePortRange, sleep, waitFor, type WhipcastServer } from './lib/server.js';

const flags = parseFlags(
  {
    seconds: { type: 'string', default: '15', help: 'CPU measurement window per scenario' },
    warmup: { type: 'string', default: '5', help: 'seconds after the renditions are running before measuring' },
    kbps: { type: 'string', default: '2500', help: "the source's x264 bitrate" },
    'latency-seconds': { type: 'string', default: '10', help: 'latency measurement window per viewer (0: no latency part)' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/ladder.js [options]',
);
const seconds = numberFlag('seconds', flags.seconds, 1);
const warmupSeconds = numberFlag('warmup', flags.warmup, 0);
const kbps = intFlag('kbps', flags.kbps, 100);
const latencySeconds = numberFlag('latency-seconds', flags['latency-seconds'], 0);

const TEMPLATES = {
  '180p': { id: 'ld', video: { height: 180, bitrateKbps: 300 } },
  '360p': { id: 'sd', video: { height: 360, bitrateKbps: 800 } },
  '540p': { id: 'qhd', video: { height: 540, bitrateKbps: 1500 } },
};

interface Scenario {
  name: string;
  transcoding: { templates: unknown[]; ladders?: unknown[] };
  /** HTTP-FLV players to start (on-demand renditions), as stream names. */
  players?: string[];
  /** FFmpegs of the server to wait for before measuring. */
  ffmpegs: number;
}

const always = (keys: (keyof typeof TEMPLATES)[]) => keys.map((k) => ({ ...TEMPLATES[k], trigger: 'always' }));
const SCENARIOS: Scenario[] = [
  { name: 'source only', transcoding: { templates: [] }, ffmpegs: 1 },
  { name: '720p → 360p', transcoding: { templates: always(['360p']) }, ffmpegs: 2 },
  { name: '720p → 180p', transcoding: { templates: always(['180p']) }, ffmpegs: 2 },
  { name: '3 renditions, one FFmpeg', transcoding: { templates: always(['180p', '360p', '540p']) }, ffmpegs: 2 },
  {
    name: '3 renditions, three FFmpegs',
    transcoding: { templates: [TEMPLATES['180p'], TEMPLATES['360p'], TEMPLATES['540p']] },
    players: ['cam_ld', 'cam_sd', 'cam_qhd'],
    ffmpegs: 1 + 3 + 3,
  },
  {
    name: 'WebRTC ladder 180p + 360p',
    transcoding: { templates: [TEMPLATES['180p'], TEMPLATES['360p']], ladders: [{ app: 'bench', templates: ['ld', 'sd'], webrtc: true }] },
    ffmpegs: 2,
  },
];

interface Result {
  scenario: string;
  /** Server FFmpegs by kind: CPU % of one core over the window. */
  bridgePercent: number;
  renditionPercent: number;
  egressPercent: number;
  totalPercent: number;
  processes: number;
}

let server: WhipcastServer | undefined;
let source: ChildProcess | undefined;
const tmp = mkdtempSync(join(tmpdir(), 'whipcast-bench-ladder-'));
const procs = new BenchProcesses(tmp);
const latencyViewers = new Set<RtmpViewer>();
const players: AbortController[] = [];

/** Which of the server's FFmpegs a command line is. */
function kindOf(args: string[]): 'bridge' | 'rendition' | 'egress' {
  if (args.includes('-start_time_realtime')) return 'bridge';
  if (args.includes('-filter_complex')) return 'rendition';
  return 'egress';
}

function serverFfmpegs(): { pid: number; args: string[] }[] {
  return childProcesses().filter((p) => p.pid !== source?.pid && p.args[0]?.endsWith('ffmpeg'));
}

async function run(scenario: Scenario): Promise<Result> {
  server = await startServer(
    resolveConfig({
      http: { host: '127.0.0.1', port: 0 },
      rtmp: { host: '127.0.0.1', port: 0 },
      rtc: { port: await freePortRange(1), listenIps: [{ ip: '127.0.0.1' }], workers: 1 },
      log: { level: flags['log-level'] },
      transcoding: scenario.transcoding,
    }),
  );
  const live = server;
  source = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', '30', '-pix_fmt', 'yuv420p', '-b:v', `${kbps}k`, '-c:a', 'aac', '-b:a', '128k',
    '-f', 'flv', `rtmp://127.0.0.1:${live.rtmpPort}/bench/cam`,
  ], { stdio: 'ignore' });
  await waitFor(() => live.registry.get('bench', 'cam') !== undefined, 'bench/cam live', 20_000);
  for (const stream of scenario.players ?? []) {
    const abort = new AbortController();
    players.push(abort);
    void fetch(`${live.httpUrl}/live/bench/${stream}.flv`, { signal: abort.signal })
      .then(async (response) => {
        for await (const chunk of response.body ?? []) void chunk; // a player that reads and discards
      })
      .catch(() => undefined);
  }
  await waitFor(() => serverFfmpegs().length >= scenario.ffmpegs, `${scenario.ffmpegs} FFmpegs of the server`, 30_000);
  await sleep(warmupSeconds * 1000);
  const processes = serverFfmpegs();
  const before = processes.map((p) => processCpuMs(p.pid));
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const windowMs = performance.now() - startedAt;
  const percent = { bridge: 0, rendition: 0, egress: 0 };
  processes.forEach((p, i) => {
    const [a, b] = [before[i], processCpuMs(p.pid)];
    if (a !== undefined && b !== undefined) percent[kindOf(p.args)] += ((b - a) / windowMs) * 100;
  });
  for (const abort of players.splice(0)) abort.abort();
  source.kill('SIGKILL');
  await once(source, 'exit');
  source = undefined;
  await closeServer(live);
  server = undefined;
  return {
    scenario: scenario.name,
    bridgePercent: round(percent.bridge),
    renditionPercent: round(percent.rendition),
    egressPercent: round(percent.egress),
    totalPercent: round(percent.bridge + percent.rendition + percent.egress),
    processes: processes.length,
  };
}

/** What a viewer of the time-coded source is sent, and whether it is smaller than the source. */
const LATENCY_TARGETS = [
  { name: 'source layer (720p, copied)', path: 'cam?spatialLayer=2', upscale: false },
  { name: 'ladder layer 360p', path: 'cam?spatialLayer=1', upscale: true },
  { name: 'ladder layer 180p', path: 'cam?spatialLayer=0', upscale: true },
  { name: 'rendition cam_sd (360p)', path: 'cam_sd', upscale: true },
  { name: 'rendition cam_ld (180p)', path: 'cam_ld', upscale: true },
];

interface LatencyResult {
  target: string;
  /** The simulcast layer it was sent at the end of its window (null: a single-layer stream). */
  layer: number | null;
  latency: LatencyStats;
  /** p50 over the source layer's. */
  addedP50Ms: number | undefined;
}

async function measureLatency(): Promise<LatencyResult[]> {
  const live = await startServer(
    resolveConfig({
      http: { host: '127.0.0.1', port: 0 },
      rtmp: { host: '127.0.0.1', port: 0 },
      rtc: { port: await freePortRange(1), listenIps: [{ ip: '127.0.0.1' }], workers: 1 },
      log: { level: flags['log-level'] },
      transcoding: { templates: [TEMPLATES['180p'], TEMPLATES['360p']], ladders: [{ app: 'lat', templates: ['ld', 'sd'], webrtc: true }] },
    }),
  );
  server = live;
  const timeCodes = procs.source();
  procs.track(spawnEncoder(timeCodes.fifo, { bframes: 0, audio: false, kbps, gop: 30, preset: 'veryfast', tune: 'zerolatency' }, `rtmp://127.0.0.1:${live.rtmpPort}/lat/cam`));
  await waitFor(() => live.registry.get('lat', 'cam') !== undefined, 'lat/cam live', 30_000);
  const results: LatencyResult[] = [];
  for (const target of LATENCY_TARGETS) {
    const probe = new LatencyProbe(timeCodes);
    const decoder = procs.decoder(probe.onBand, { upscale: target.upscale });
    let fed = false;
    const viewer = await viewRtmp(`${live.httpUrl}/whep/lat/${target.path}`, (unit) => {
      if (!fed && !unit.idr) return;
      fed = true;
      decoder.write(unit);
    });
    latencyViewers.add(viewer);
    // A pinned viewer starts on what flows first: measured once it is on its layer (a few readable frames in).
    await waitFor(() => probe.readable > 30, `${target.name}: frames with a readable time code`, 30_000);
    await sleep(warmupSeconds * 1000);
    probe.start();
    await sleep(latencySeconds * 1000);
    const latency = probe.stop();
    // Which layer the server sent it at the end (a check that the pin held; null for a single-layer stream).
    const links = (await live.registry.get('lat', target.path.split('?')[0] ?? '')?.room.viewerLinks()) ?? [];
    const layer = links[0]?.layers?.spatialLayer ?? null;
    await viewer.close();
    latencyViewers.delete(viewer);
    await procs.closeDecoder(decoder);
    const source = results[0]?.latency.p50;
    results.push({ target: target.name, layer, latency, addedP50Ms: source !== undefined && latency.p50 !== undefined ? round(latency.p50 - source, 1) : undefined });
    console.error(`done: latency of ${target.name}: p50 ${latency.p50 ?? '-'} ms (${latency.frames} frames, ${latency.unreadable} unreadable)`);
  }
  await procs.closeAll();
  await closeServer(live);
  server = undefined;
  return results;
}

runBench(
  'bench:ladder',
  async () => {
    const results: Result[] = [];
    for (const scenario of SCENARIOS) {
      results.push(await run(scenario));
      console.error(`done: ${scenario.name}`);
    }
    const base = results[0]?.totalPercent ?? 0;
    printTable(
      ['scenario', 'bridge %', 'renditions %', 'egress %', 'FFmpegs', 'total %', 'over source only %'],
      results.map((r) => [r.scenario, r.bridgePercent, r.renditionPercent, r.egressPercent, r.processes, r.totalPercent, round(r.totalPercent - base)]),
    );
    console.log(`\nCPU: % of one core over ${seconds} s.`);
    const latency = latencySeconds > 0 ? await measureLatency() : [];
    if (latency.length > 0) {
      printTable(
        ['viewer of', 'layer sent', 'p50 ms', 'p95 ms', 'frames', 'unreadable', 'added over the source layer, p50 ms'],
        latency.map((r) => [r.target, r.layer ?? '-', r.latency.p50 ?? '-', r.latency.p95 ?? '-', r.latency.frames, r.latency.unreadable, r.addedP50Ms ?? '-']),
      );
      console.log(`\nGlass to glass over ${latencySeconds} s per viewer (werift, decoded by FFmpeg, time code read back).`);
    }
    const written = await writeResults('ladder', { machine: machineInfo(), seconds, warmupSeconds, kbps, latencySeconds, results, latency: latency.map(({ latency: l, ...r }) => ({ ...r, latency: { ...l, series: undefined } })) });
    console.log(`Results: ${written.file}`);
  },
  async () => {
    for (const abort of players.splice(0)) abort.abort();
    source?.kill('SIGKILL');
    await Promise.all([...latencyViewers].map((v) => v.close()));
    await procs.closeAll();
    if (server) await closeServer(server);
    rmSync(tmp, { recursive: true, force: true });
  },
);
