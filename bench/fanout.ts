// bench:fanout — how much CPU one mediasoup worker spends fanning one ~1.5 Mbps stream out to N WHEP viewers.
//
// The real server runs in this process (one worker by default). One publisher (ffmpeg 1280x720 testsrc2 →
// werift → WHIP) and N werift WHEP viewers run in child processes (bench/viewer-process.js), so that the
// server process's own CPU is the server's alone. Viewers are added in steps; at each step, after a warm-up,
// one window measures: worker CPU (mediasoup getResourceUsage), server-process CPU, viewer-process and
// publisher CPU (/proc), RSS, egress (WebRtcTransport bytesSent of every viewer), ingress loss (producer stats),
// viewer-side packet loss (RTP sequence numbers) and frame rate (marker bits).
//
// Viewers are "light" by default: werift does ICE, DTLS and RTCP, but RTP is counted from its clear SRTP header
// before werift would decrypt it (lib/udp.ts), and the viewer sends its own receiver reports. The server's work is
// the same; the viewers cost ~3x less CPU, which matters because they share the server's 2 cores.
// --full-viewers makes werift decrypt and handle every packet (--viewer-nack/--viewer-twcc add that feedback).
//
//   node dist/bench/fanout.js --steps 0,25,50,100,150,200 --step-seconds 20 --workers 1
//
// Two (or more) worker binaries in one run: --worker-bin old=/path/a,new=/path/b [--rounds 2] runs the bench once
// per binary and round, interleaved (lib/worker-ab.ts), and prints worker + server CPU per viewer side by side.
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { types as ms } from 'mediasoup';
import type { WebRtcViewer } from '../sfu/index.js';
import { intFlag, intListFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { machineBusyPercent, machineCpu, machineInfo, processCpuMs, processRssBytes, udpDrops, udpSocketDrops, type MachineCpu } from './lib/proc.js';
import { linearFit, printTable, round, summarize, writeResults, type Cell } from './lib/report.js';
import { sleep, startBenchServer, waitFor, type WhipcastServer } from './lib/server.js';
import { lineSvg, writeChart } from './lib/chart.js';
import { cleanupRig, stopRigOnSignals } from './lib/rig.js';
import { BenchChild, ViewerPool } from './lib/viewer-pool.js';
import type { ViewerWindow } from './lib/viewer-protocol.js';
import { DEFAULT_ENCODER, type EncoderOptions } from './lib/webrtc.js';
import { parseWorkerBins, runWorkerAb } from './lib/worker-ab.js';

const flags = parseFlags(
  {
    steps: { type: 'string', default: '0,25,50,100,150,200', help: 'viewer counts to measure, ascending' },
    'step-seconds': { type: 'string', default: '20', help: 'measurement window per step' },
    'warmup-seconds': { type: 'string', default: '5', help: 'wait after the viewers of a step have joined' },
    workers: { type: 'string', default: '1', help: 'mediasoup workers' },
    'viewers-per-process': { type: 'string', default: '25', help: 'werift viewers hosted by one child process' },
    'viewer-nice': { type: 'string', default: '10', help: 'niceness of the viewer processes (they yield the CPU to the server and the publisher; 0 = equal share)' },
    'viewer-rcvbuf-kb': { type: 'string', default: '1024', help: 'UDP receive buffer of the viewers\' sockets (0 = system default)' },
    'full-viewers': { type: 'boolean', help: 'viewers decrypt and process every packet in werift (default: count RTP from the clear SRTP header; werift still does ICE, DTLS, RTCP)' },
    'viewer-nack': { type: 'boolean', help: 'viewers negotiate NACK (werift re-requests every 5 ms: storms under load); loss is then residual loss' },
    'viewer-twcc': { type: 'boolean', help: 'viewers negotiate transport-wide CC and send its feedback (costly in werift)' },
    'join-concurrency': { type: 'string', default: '10', help: 'viewers joining at once, per child process' },
    chart: { type: 'boolean', help: 'also write a PNG chart of CPU against viewers (results/fanout-latest.png)' },
    kbps: { type: 'string', default: String(DEFAULT_ENCODER.kbps), help: 'publisher video bitrate (kbit/s)' },
    size: { type: 'string', default: `${DEFAULT_ENCODER.width}x${DEFAULT_ENCODER.height}`, help: 'publisher video size' },
    preset: { type: 'string', default: DEFAULT_ENCODER.preset, help: 'x264 preset of the publisher' },
    gop: { type: 'string', default: String(DEFAULT_ENCODER.gop), help: 'publisher key-frame interval (frames)' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
    'worker-bin': { type: 'string', default: '', help: 'compare mediasoup worker binaries in one run: [label=]path,[label=]path (one child run per binary and round, interleaved)' },
    rounds: { type: 'string', default: '1', help: 'with --worker-bin: rounds (each runs every binary once, order alternating)' },
    'probe-stats': { type: 'string', default: '0', help: 'after the last step, one more window with this many extra transport.getStats() per viewer per second (what the server\'s inactivity check does every 5 s), to price one call' },
    'result-file': { type: 'string', default: '', help: 'also write the JSON results to this file (used by --worker-bin)' },
  },
  'Usage: node dist/bench/fanout.js [options]',
);

const steps = [...new Set(intListFlag('steps', flags.steps))].sort((a, b) => a - b);
const stepSeconds = numberFlag('step-seconds', flags['step-seconds'], 1);
const warmupSeconds = numberFlag('warmup-seconds', flags['warmup-seconds'], 0);
const workers = intFlag('workers', flags.workers, 1);
const perProcess = intFlag('viewers-per-process', flags['viewers-per-process'], 1);
const joinConcurrency = intFlag('join-concurrency', flags['join-concurrency'], 1);
const viewerRcvbufKb = intFlag('viewer-rcvbuf-kb', flags['viewer-rcvbuf-kb'], 0);
const viewerNice = intFlag('viewer-nice', flags['viewer-nice'], 0);
const feedback = { nack: flags['viewer-nack'], twcc: flags['viewer-twcc'] };
const lightViewers = !flags['full-viewers'];
if (lightViewers && feedback.nack) {
  console.error('--viewer-nack needs --full-viewers (light viewers hand no packet to werift, so it would see every packet as lost)');
  process.exit(2);
}
const [width, height] = flags.size.split('x').map((s) => intFlag('size', s, 16));
const encoder: EncoderOptions = { ...DEFAULT_ENCODER, width: width ?? 1280, height: height ?? 720, kbps: intFlag('kbps', flags.kbps, 50), preset: flags.preset, gop: intFlag('gop', flags.gop, 1) };
const STREAM = 'bench/fanout';
const machineCores = machineInfo().nproc;

interface CpuSample {
  at: number;
  workers: number[];
  server: number;
  viewers: number;
  publisher: number;
  machine: MachineCpu;
  udpRcvbufErrors: number;
  serverSocketDrops: number;
}

interface StepResult {
  viewers: number;
  connected: number;
  windowSeconds: number;
  /**
   * % of ONE core, except machineBusyPct (% of all cores together). otherPct: CPU the machine spent outside this
   * benchmark's processes (other programs, kernel), in % of one core.
   */
  cpu: { workerPct: number; perWorkerPct: number[]; serverPct: number; viewerProcessesPct: number; publisherPct: number; machineBusyPct: number; otherPct: number };
  rssMiB: { server: number; workers: number; viewerProcesses: number };
  ingressMbps: number;
  /** Packets of the publisher lost before the SFU (mediasoup producer stats): every viewer misses these too. */
  ingressLossPct: number;
  egressMbps: number;
  egressPerViewerKbps: number | undefined;
  loss: { expected: number; lost: number; pct: number; videoPct: number; audioPct: number; worstViewerPct: number; duplicates: number };
  /** Datagrams the kernel dropped machine-wide in the window because a socket's receive buffer was full. */
  udpRcvbufDrops: number;
  /** Of those, datagrams dropped at the mediasoup workers' own UDP sockets (publisher RTP and viewers' RTCP in). */
  serverSocketDrops: number;
  /** Event-loop delay of the viewer processes (worst process): high values mean the viewers could not keep up. */
  viewerLoopDelayMs: { p99: number; max: number };
  fps: { mean: number | undefined; min: number | undefined };
  joinMs?: ReturnType<typeof summarize>;
  joinFailures: number;
  /** Viewer sessions the server holds at the end of the window, and those it closed during the step (by reason). */
  serverSessions?: number;
  serverClosed?: Record<string, number>;
}

let server: WhipcastServer | undefined;
let publisherChild: BenchChild | undefined;
let encoderPid: number | undefined;
let pool: ViewerPool | undefined;
/** Why the server closed viewer sessions (WebRtcPeer 'close' reasons), reset at every step. */
const closedReasons = new Map<string, number>();
let finished = false;

async function main(): Promise<void> {
  if (flags['worker-bin']) {
    await runWorkerAb(parseWorkerBins(flags['worker-bin']), intFlag('rounds', flags.rounds, 1), process.argv.slice(2));
    return;
  }
  const machine = machineInfo();
  console.log(`fanout: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}; workers ${workers}; steps ${steps.join(',')}; window ${stepSeconds}s (+${warmupSeconds}s warm-up)`);
  console.log(`worker: ${process.env.MEDIASOUP_WORKER_BIN ?? 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'}`);
  console.log(`viewers: werift${lightViewers ? ' (light: RTP counted from the clear SRTP header, not decrypted)' : ' (full: every packet decrypted)'} in child processes of ${perProcess}, feedback ${feedback.nack ? 'NACK' : 'no NACK'}/${feedback.twcc ? 'transport-cc' : 'no transport-cc'} (+PLI/FIR), UDP rcvbuf ${viewerRcvbufKb} KiB, nice ${viewerNice}`);
  console.log(`publisher: ${encoder.width}x${encoder.height}@${encoder.fps} H264 baseline ${encoder.kbps} kbit/s (maxrate ${encoder.kbps}k, bufsize ${Math.round(encoder.kbps / 2)}k, preset ${encoder.preset}, g ${encoder.gop}) + Opus 64k`);

  server = await startBenchServer({ workers, logLevel: flags['log-level'], viewersPerWorker: workers === 1 ? 100_000 : 500 });
  const srv = server;
  console.log(`worker pid(s): ${(await srv.sfu.workerUsage()).map((u) => u.pid).join(',')}`);
  const viewers = new Set<WebRtcViewer>();

  publisherChild = BenchChild.spawn(viewerRcvbufKb * 1024);
  const published = await publisherChild.request({ cmd: 'publish', url: `${srv.httpUrl}/whip/${STREAM}`, encoder }, 30_000);
  if (published.type !== 'published') throw new Error(`publisher: unexpected reply ${published.type}`);
  encoderPid = published.encoderPid;
  await waitFor(() => srv.registry.list().some((s) => `${s.app}/${s.stream}` === STREAM), 'stream live');
  const live = srv.registry.list().find((s) => `${s.app}/${s.stream}` === STREAM);
  if (!live) throw new Error('stream not live');
  live.room.on('viewer', (v) => {
    viewers.add(v);
    v.once('close', (reason) => {
      viewers.delete(v);
      closedReasons.set(reason, (closedReasons.get(reason) ?? 0) + 1);
    });
  });
  await waitFor(async () => (await producerCounters(live.room.producers)).bytes > 100_000, 'publisher media', 20_000);
  await sleep(2000);

  let streamEnded = false;
  live.room.once('close', () => {
    streamEnded = true;
    if (!finished) console.error('\n!! the stream ended (the publisher session closed): stopping the run');
  });
  pool = new ViewerPool(`${srv.httpUrl}/whep/${STREAM}`, perProcess, joinConcurrency, viewerRcvbufKb * 1024, feedback, lightViewers, viewerNice);
  const results: StepResult[] = [];
  for (const n of steps) {
    if (streamEnded) break;
    let join: Awaited<ReturnType<ViewerPool['growTo']>> | undefined;
    if (n > pool.count) {
      process.stdout.write(`\n[step ${n}] joining ${n - pool.count} viewers… `);
      const t = performance.now();
      join = await pool.growTo(n);
      console.log(`${join.ok} joined, ${join.failed} failed in ${((performance.now() - t) / 1000).toFixed(1)} s${join.errors.length ? ` (${join.errors.join('; ')})` : ''}`);
    } else {
      console.log(`\n[step ${n}]`);
    }
    await sleep(warmupSeconds * 1000);
    const r = await measure(srv, live.room.producers, viewers, pool, n);
    r.serverSessions = viewers.size;
    r.serverClosed = Object.fromEntries(closedReasons);
    closedReasons.clear();
    if (Object.keys(r.serverClosed).length) console.log(`  server closed viewer sessions during this step: ${JSON.stringify(r.serverClosed)}`);
    if (join) {
      r.joinMs = summarize(join.joinMs, 0);
      r.joinFailures = join.failed;
    }
    if (streamEnded) {
      console.error(`step ${n} discarded: the stream ended during it`);
      break;
    }
    results.push(r);
    printSteps([r]);
  }

  const probeRate = numberFlag('probe-stats', flags['probe-stats'], 0);
  let statsProbe: Record<string, number> | undefined;
  const last = results[results.length - 1];
  if (probeRate > 0 && last && last.viewers > 0 && !streamEnded) statsProbe = await probeStats(srv, live.room.producers, viewers, pool, last, probeRate);

  finished = true;
  console.log('\n=== fan-out of one stream ===');
  printSteps(results);
  const summary = summarizeRun(results);
  console.log('');
  for (const line of summary.lines) console.log(line);

  const { file, latest } = await writeResults('fanout', {
    name: 'fanout',
    startedAt: new Date().toISOString(),
    machine,
    config: { steps, stepSeconds, warmupSeconds, workers, viewersPerProcess: perProcess, joinConcurrency, viewerRcvbufKb, viewerNice, viewerFeedback: feedback, lightViewers, encoder, mediasoup: '3.12.16', workerBin: process.env.MEDIASOUP_WORKER_BIN },
    steps: results,
    summary: summary.data,
    statsProbe,
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
  if (flags['result-file']) await writeFile(flags['result-file'], `${JSON.stringify({ steps: results, summary: summary.data }, null, 2)}\n`);
  if (flags.chart) {
    const line = (label: string, pick: (r: StepResult) => number) => ({ label, points: results.map((r) => ({ x: r.viewers, y: pick(r) })) });
    const svg = lineSvg(`fan-out of one ${round(summary.data.meanIngressMbps as number, 1)} Mbit/s stream, ${machine.nproc} × ${machine.cpuModel}`, 'WHEP viewers', '% of one core', [
      line('mediasoup worker', (r) => r.cpu.workerPct),
      line('server (Node)', (r) => r.cpu.serverPct),
      line('machine busy (% of all cores)', (r) => r.cpu.machineBusyPct),
    ]);
    console.log(`chart:   ${await writeChart('fanout', svg)}`);
  }
}

/**
 * The price of one WebRtcTransport.getStats(): the last step's window again, with `rate` extra calls per viewer per
 * second spread evenly over the window; the CPU above the last step's, divided by the calls.
 */
async function probeStats(srv: WhipcastServer, producers: readonly ms.Producer[], viewers: Set<WebRtcViewer>, viewerPool: ViewerPool, last: StepResult, rate: number): Promise<Record<string, number>> {
  console.log(`\n[stats probe] ${last.viewers} viewers, ${rate} extra transport.getStats() per viewer per second`);
  let calls = 0;
  let stop = false;
  const list = [...viewers];
  const intervalMs = 1000 / (rate * Math.max(1, list.length));
  const loop = (async () => {
    let i = 0;
    let next = performance.now();
    while (!stop) {
      const v = list[i++ % list.length];
      if (v) {
        calls++;
        void v.transport.getStats().catch(() => undefined);
      }
      next += intervalMs;
      const wait = next - performance.now();
      if (wait > 1) await sleep(wait);
      else if (i % 16 === 0) await sleep(0);
    }
  })();
  await sleep(1000);
  const callsBefore = calls;
  const r = await measure(srv, producers, viewers, viewerPool, last.viewers);
  const windowCalls = calls - callsBefore;
  stop = true;
  await loop;
  const extraWorker = r.cpu.workerPct - last.cpu.workerPct;
  const extraServer = r.cpu.serverPct - last.cpu.serverPct;
  const perCallUs = (pct: number) => round(((pct / 100) * r.windowSeconds * 1e6) / Math.max(1, windowCalls), 1);
  const out = {
    viewers: last.viewers,
    callsPerSecond: round(windowCalls / r.windowSeconds, 1),
    workerPct: r.cpu.workerPct,
    serverPct: r.cpu.serverPct,
    baseWorkerPct: last.cpu.workerPct,
    baseServerPct: last.cpu.serverPct,
    workerUsPerCall: perCallUs(extraWorker),
    serverUsPerCall: perCallUs(extraServer),
  };
  console.log(`  ${out.callsPerSecond} calls/s: worker ${last.cpu.workerPct} → ${r.cpu.workerPct} %, server ${last.cpu.serverPct} → ${r.cpu.serverPct} %: ${out.workerUsPerCall} µs (worker) + ${out.serverUsPerCall} µs (Node) per call`);
  return out;
}

/** What the publisher's producers received so far: bytes, packets, and packets lost on the way in. */
async function producerCounters(producers: readonly ms.Producer[]): Promise<{ bytes: number; packets: number; lost: number }> {
  const stats = (await Promise.all(producers.map((p) => p.getStats().catch(() => [])))).flat();
  return { bytes: stats.reduce((s, st) => s + st.byteCount, 0), packets: stats.reduce((s, st) => s + st.packetCount, 0), lost: stats.reduce((s, st) => s + st.packetsLost, 0) };
}

async function egressBytes(viewers: Iterable<WebRtcViewer>): Promise<number> {
  const stats = await Promise.all([...viewers].map((v) => v.transport.getStats().catch(() => [])));
  return stats.flat().reduce((s, st) => s + st.bytesSent, 0);
}

async function cpuSample(srv: WhipcastServer, viewerPids: number[], publisherPids: number[]): Promise<CpuSample> {
  const usage = await srv.sfu.workerUsage();
  const cpu = process.cpuUsage();
  const sum = (pids: number[]) => pids.reduce((s, pid) => s + (processCpuMs(pid) ?? 0), 0);
  return { at: performance.now(), workers: usage.map((u) => u.cpuMs), server: (cpu.user + cpu.system) / 1000, viewers: sum(viewerPids), publisher: sum(publisherPids), machine: machineCpu(), udpRcvbufErrors: udpDrops().rcvbufErrors, serverSocketDrops: udpSocketDrops(srv.sfu.ports) };
}

async function measure(srv: WhipcastServer, producers: readonly ms.Producer[], viewers: Set<WebRtcViewer>, viewerPool: ViewerPool, n: number): Promise<StepResult> {
  const viewerPids = viewerPool.pids;
  const publisherPids = [publisherChild?.pid ?? -1, encoderPid ?? -1].filter((p) => p > 0);
  // Byte counters are read outside the CPU window (hundreds of getStats requests cost the worker CPU too).
  const egress0 = { bytes: await egressBytes(viewers), at: performance.now() };
  const ingress0 = await producerCounters(producers);
  await viewerPool.startWindow();
  const a = await cpuSample(srv, viewerPids, publisherPids);
  await sleep(stepSeconds * 1000);
  const b = await cpuSample(srv, viewerPids, publisherPids);
  const ended = n > 0 ? await viewerPool.endWindow() : { viewers: [], loopDelayMs: { p99: 0, max: 0 } };
  const windows: ViewerWindow[] = ended.viewers;
  const ingress1 = await producerCounters(producers);
  const egress1 = { bytes: await egressBytes(viewers), at: performance.now() };

  const wallMs = b.at - a.at;
  const pct = (x0: number, x1: number) => round(((x1 - x0) / wallMs) * 100, 1);
  const perWorkerPct = b.workers.map((w, i) => pct(a.workers[i] ?? w, w));
  const bytesSeconds = (egress1.at - egress0.at) / 1000;
  const egressMbps = ((egress1.bytes - egress0.bytes) * 8) / bytesSeconds / 1e6;

  const usage = await srv.sfu.workerUsage();
  const mib = (x: number) => round(x / 1048576, 0);
  const rssSum = (pids: number[]) => pids.reduce((s, pid) => s + (processRssBytes(pid) ?? 0), 0);

  const loss = lossOf(windows);
  const ours = perWorkerPct.reduce((x, y) => x + y, 0) + pct(a.server, b.server) + pct(a.viewers, b.viewers) + pct(a.publisher, b.publisher);
  const machineBusy = machineBusyPercent(a.machine, b.machine);
  const seconds = wallMs / 1000;
  const fpsList = windows.map((w) => w.video.frames / seconds);
  return {
    viewers: n,
    connected: windows.filter((w) => w.state === 'connected').length,
    windowSeconds: round(seconds, 2),
    cpu: {
      workerPct: round(perWorkerPct.reduce((s, x) => s + x, 0), 1),
      perWorkerPct,
      serverPct: pct(a.server, b.server),
      viewerProcessesPct: pct(a.viewers, b.viewers),
      publisherPct: pct(a.publisher, b.publisher),
      machineBusyPct: round(machineBusy, 1),
      otherPct: round(Math.max(0, machineBusy * machineCores - ours), 0),
    },
    rssMiB: { server: mib(process.memoryUsage().rss), workers: mib(rssSum(usage.map((u) => u.pid))), viewerProcesses: mib(rssSum(viewerPids)) },
    ingressMbps: round(((ingress1.bytes - ingress0.bytes) * 8) / bytesSeconds / 1e6, 2),
    ingressLossPct: ingressLoss(ingress0, ingress1),
    egressMbps: round(egressMbps, 1),
    egressPerViewerKbps: n > 0 ? round((egressMbps * 1000) / n, 0) : undefined,
    loss,
    udpRcvbufDrops: b.udpRcvbufErrors - a.udpRcvbufErrors,
    serverSocketDrops: b.serverSocketDrops - a.serverSocketDrops,
    viewerLoopDelayMs: { p99: round(ended.loopDelayMs.p99, 0), max: round(ended.loopDelayMs.max, 0) },
    fps: { mean: fpsList.length ? round(fpsList.reduce((s, x) => s + x, 0) / fpsList.length, 1) : undefined, min: fpsList.length ? round(Math.min(...fpsList), 1) : undefined },
    joinFailures: 0,
  };
}

function ingressLoss(a: { packets: number; lost: number }, b: { packets: number; lost: number }): number {
  const lost = Math.max(0, b.lost - a.lost);
  const total = b.packets - a.packets + lost;
  return total > 0 ? round((lost / total) * 100, 3) : 0;
}

function lossOf(windows: ViewerWindow[]): StepResult['loss'] {
  let expected = 0;
  let received = 0;
  let vExp = 0;
  let vRec = 0;
  let aExp = 0;
  let aRec = 0;
  let duplicates = 0;
  let worst = 0;
  for (const w of windows) {
    vExp += w.video.expected;
    vRec += w.video.received;
    aExp += w.audio.expected;
    aRec += w.audio.received;
    duplicates += w.video.duplicates + w.audio.duplicates;
    const e = w.video.expected + w.audio.expected;
    const r = w.video.received + w.audio.received;
    // A viewer that received nothing in the window lost everything the others were sent.
    const viewerPct = e > 0 ? ((e - r) / e) * 100 : 100;
    worst = Math.max(worst, viewerPct);
    expected += e;
    received += r;
  }
  const p = (exp: number, rec: number) => (exp > 0 ? round(((exp - rec) / exp) * 100, 3) : 0);
  return { expected, lost: expected - received, pct: p(expected, received), videoPct: p(vExp, vRec), audioPct: p(aExp, aRec), worstViewerPct: round(windows.length ? worst : 0, 2), duplicates };
}

function printSteps(results: StepResult[]): void {
  const rows: Cell[][] = results.map((r) => [
    r.viewers,
    r.connected,
    r.cpu.workerPct,
    r.cpu.serverPct,
    r.cpu.viewerProcessesPct,
    r.cpu.publisherPct,
    r.cpu.otherPct,
    r.cpu.machineBusyPct,
    r.ingressMbps,
    r.ingressLossPct,
    r.egressMbps,
    r.loss.pct,
    r.loss.worstViewerPct,
    r.udpRcvbufDrops,
    r.serverSocketDrops,
    r.viewerLoopDelayMs.max,
    r.fps.mean,
    r.fps.min,
    r.rssMiB.server,
    r.rssMiB.workers,
    r.rssMiB.viewerProcesses,
  ]);
  printTable(
    ['viewers', 'conn', 'worker%', 'server%', 'viewers%', 'pub%', 'other%', 'machine%', 'in Mb/s', 'inLoss%', 'out Mb/s', 'loss%', 'worst%', 'udpDrop', 'srvDrop', 'lagMs', 'fps', 'min fps', 'srvMiB', 'wrkMiB', 'viewMiB'],
    rows,
  );
}

function summarizeRun(results: StepResult[]): { lines: string[]; data: Record<string, unknown> } {
  const lines: string[] = [];
  const fit = linearFit(results.map((r) => ({ x: r.viewers, y: r.cpu.workerPct })));
  const base = results.find((r) => r.viewers === 0);
  const perStep = results
    .filter((r) => r.viewers > 0)
    .map((r) => ({ viewers: r.viewers, workerPctPer100: round(((r.cpu.workerPct - (base?.cpu.workerPct ?? 0)) / r.viewers) * 100, 1) }));
  const ingress = results.map((r) => r.ingressMbps);
  const meanIngress = ingress.reduce((s, x) => s + x, 0) / Math.max(1, ingress.length);
  if (fit) {
    lines.push(`worker CPU per 100 viewers (linear fit over ${results.length} steps): ${round(fit.slope * 100, 1)} % of one core (intercept ${round(fit.intercept, 1)} %, r² ${round(fit.r2, 3)})`);
  }
  lines.push(`worker CPU per 100 viewers, per step${base ? ' (above the 0-viewer baseline)' : ''}: ${perStep.map((s) => `${s.viewers}→${s.workerPctPer100}%`).join(', ')}`);
  lines.push(`stream: ${round(meanIngress, 2)} Mbit/s in (video + audio RTP payload + headers)`);
  const under = results.filter((r) => r.viewers > 0 && r.loss.pct < 1 && r.connected === r.viewers);
  const underWorst = results.filter((r) => r.viewers > 0 && r.loss.worstViewerPct < 1 && r.connected === r.viewers);
  const largest = under.length ? Math.max(...under.map((r) => r.viewers)) : undefined;
  const largestWorst = underWorst.length ? Math.max(...underWorst.map((r) => r.viewers)) : undefined;
  lines.push(`largest N with < 1 % loss (all viewers together): ${largest ?? 'none'}; with every viewer < 1 %: ${largestWorst ?? 'none'}`);
  const saturated = results.filter((r) => r.cpu.machineBusyPct > 90).map((r) => r.viewers);
  if (saturated.length) {
    lines.push(`machine > 90 % busy at N = ${saturated.join(', ')}: loss there can come from CPU starvation on this one machine (viewers,`);
    lines.push(`  encoder and server share ${machineCores} cores${results.some((r) => r.cpu.otherPct > 20) ? ', and other programs used some: see other%' : ''}) rather than from the SFU's own limit`);
  }
  const ingressLossy = results.filter((r) => r.ingressLossPct >= 0.5).map((r) => `${r.viewers} (${r.ingressLossPct} %)`);
  if (ingressLossy.length) lines.push(`publisher packets lost before the SFU at N = ${ingressLossy.join(', ')}: every viewer misses those too`);
  return {
    lines,
    data: {
      workerPctPer100ViewersFit: fit ? round(fit.slope * 100, 2) : undefined,
      fit: fit ? { slope: fit.slope, intercept: fit.intercept, r2: fit.r2 } : undefined,
      workerPctPer100ViewersPerStep: perStep,
      meanIngressMbps: round(meanIngress, 3),
      largestNUnder1PctLoss: largest,
      largestNEveryViewerUnder1PctLoss: largestWorst,
    },
  };
}

const rigParts = () => ({ server, publisherChild, encoderPid, pool });

async function cleanup(): Promise<void> {
  await cleanupRig(rigParts());
}

stopRigOnSignals(rigParts);

runBench('fanout', main, cleanup);
