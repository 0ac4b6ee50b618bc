// bench:standard — the standard-latency side: HLS and HTTP-FLV playback latency, relays to RTMP servers (latency
// and CPU per relayed stream), and recording (disk bytes per minute, recorder CPU).
//
// Media: the time-code generator of bench:rtmp (a worker thread stamps Date.now() into raw 1280×720 frames,
// bench/lib/rtmp-timecode.ts) into x264 (-bf 0, GOP 30 = 1 s, preset veryfast, 2500 kbit/s) + AAC, pushed over
// RTMP to the real server in this process (bench/std); or the same x264 arguments written as RTP (+ Opus) into a
// werift peer that publishes over WHIP (bench/whip). Every client decodes with a long-running ffmpeg whose output
// is the time-code band of each frame; latency = the moment the band came out − the moment it was stamped.
//  1. Floor: encoder → FLV pipe → decoder, no server (as bench:rtmp). Server-added = p50 − floor p50.
//  2. HTTP-FLV: fetch(/live/bench/std.flv), the body parsed as FLV (FlvFrames) into the floor's decoder.
//  3. HLS: ffmpeg reading /live/bench/std.m3u8 as a player would, decoding to the band: "plain" (`ffmpeg -i URL`:
//     starts 3 segments back, then reads each new segment as soon as it is listed: the live edge), "-re" (the same,
//     paced at real time: it stays 3 segments behind, as a player that buffers 3 segments does), "tuned"
//     (-live_start_index -1) and "nobuffer" (tuned + -fflags nobuffer). The decoder is low-delay in all (as the
//     floor's): the figures are the server's and the protocol's, not ffmpeg's frame threads. Each run starts cold:
//     a first client starts the server's on-demand muxer (time to first frame from its first playlist request,
//     seen on the server's socket); once the playlist lists 3 segments, the measured client joins (warm time to
//     first frame), the first leaves, and latency is measured on the second. Per standard.hlsSegmentSeconds.
//  4. Relays: a rule added over POST /api/relays pushes the stream to `ffmpeg -listen 1 -i rtmp://…` (an RTMP
//     server) which writes FLV to a pipe → FlvFrames → decoder. From the RTMP source (the relay copies the ingest's
//     FLV) and from a WHIP source (the SFU egress ffmpeg copies H264 and converts Opus → AAC, then the relay).
//     CPU of the relay ffmpeg and the egress ffmpeg: children of this process found in /proc by command line.
//  5. Recording (when the server has a recording service): a template { app bench, formats [m3u8], 5 s segments }
//     records bench/rec for --record-seconds; disk bytes per recorded minute and the recorder ffmpeg's CPU.
//
//   node dist/bench/standard.js --seconds 20 --hls-segments 1,2 --hls-clients plain,re,tuned,nobuffer --record-seconds 30
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigError, resolveConfig } from '../src/config/config.js';
import { startServer } from '../src/server.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { BenchProcesses, cpuWindow, flow, LatencyProbe, reapChildren, runFloor, sampleCpu, type CpuWindow, type FloorResult, type LatencyStats, type WindowFlow } from './lib/latency.js';
import { childProcesses, machineInfo } from './lib/proc.js';
import { printTable, round, writeResults, type Cell } from './lib/report.js';
import { spawnEncoder, type EncoderSettings, type TimeCodeSource } from './lib/rtmp-generator.js';
import { FlvFrames, type FrameDecoder } from './lib/rtmp-h264.js';
import { FPS, HEIGHT, WIDTH } from './lib/rtmp-timecode.js';
import { freePortRange, sleep, waitFor, type WhipcastServer } from './lib/server.js';
import { publishTimeCode, type TimeCodePublisher } from './lib/whip-timecode.js';

const flags = parseFlags(
  {
    seconds: { type: 'string', default: '20', help: 'latency/CPU measurement window per client' },
    warmup: { type: 'string', default: '3', help: 'seconds after the first decoded frame before measuring' },
    kbps: { type: 'string', default: '2500', help: 'x264 bitrate (-b:v)' },
    preset: { type: 'string', default: 'veryfast', help: 'x264 preset' },
    'hls-segments': { type: 'string', default: '1,2', help: 'standard.hlsSegmentSeconds values to measure (one server each)' },
    'hls-clients': { type: 'string', default: 'plain,re,tuned,nobuffer', help: 'HLS clients (plain, re, tuned, nobuffer)' },
    'record-seconds': { type: 'string', default: '30', help: 'recording length (0: skip)' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/standard.js [options]',
);
const seconds = numberFlag('seconds', flags.seconds, 1);
const warmupSeconds = numberFlag('warmup', flags.warmup, 0);
const kbps = intFlag('kbps', flags.kbps, 100);
const recordSeconds = numberFlag('record-seconds', flags['record-seconds'], 0);
const hlsSegments = flags['hls-segments'].split(',').map((s) => numberFlag('hls-segments', s.trim(), 0.5));

/** HLS clients: ffmpeg input arguments before `-i URL` (the decoder is low-delay in all, as the floor's). */
const HLS_CLIENTS = {
  plain: { label: 'ffmpeg -i', input: ['-flags', 'low_delay'] },
  re: { label: 'ffmpeg -re -i', input: ['-re', '-flags', 'low_delay'] },
  tuned: { label: '-live_start_index -1', input: ['-live_start_index', '-1', '-flags', 'low_delay'] },
  nobuffer: { label: '-live_start_index -1 nobuffer', input: ['-live_start_index', '-1', '-fflags', 'nobuffer', '-flags', 'low_delay'] },
} as const;
type HlsClient = keyof typeof HLS_CLIENTS;
const hlsClients = flags['hls-clients'].split(',').map((s) => s.trim()).filter((s) => s.length > 0);
for (const c of hlsClients) {
  if (!(c in HLS_CLIENTS)) {
    console.error(`--hls-clients: unknown client "${c}" (known: ${Object.keys(HLS_CLIENTS).join(', ')})`);
    process.exit(2);
  }
}

/** RTMP publisher: no B-frames (as a relay or HLS would want it), AAC audio. The WHIP one has the same x264 args. */
const settings: EncoderSettings = { bframes: 0, audio: true, kbps, gop: 30, preset: flags.preset };
const HLS_IDLE_SECONDS = 5;

const tmp = mkdtempSync(join(tmpdir(), 'whipcast-bench-standard-'));
const procs = new BenchProcesses(tmp);
const closers = new Set<() => Promise<void>>();
let server: WhipcastServer | undefined;

// ---------------------------------------------------------------------------------------------------------------

interface Run {
  route: string;
  client: string;
  /** standard.hlsSegmentSeconds, for HLS runs. */
  segmentSeconds?: number;
  latency: LatencyStats;
  serverAddedP50?: number;
  /** Cold: the first client (HLS: the muxer starts on its playlist request; relay: from adding the rule). */
  ttffColdMs?: number;
  /** Warm: a second client joining while the first plays (HLS, HTTP-FLV). */
  ttffWarmMs?: number;
  cpu: CpuWindow;
  window: WindowFlow;
}

interface Measured {
  latency: LatencyStats;
  cpu: CpuWindow;
  window: WindowFlow;
}

/** Waits for the first decoded frame and the warm-up, then measures latency and CPU over the window. */
async function measure(what: string, srv: WhipcastServer, source: TimeCodeSource, probe: LatencyProbe, pids: () => Record<string, number | undefined>): Promise<Measured> {
  await waitFor(() => probe.readable > 0, `${what}: the first decoded frame`, 40_000);
  await sleep(warmupSeconds * 1000);
  const a = await sampleCpu(pids(), srv.sfu);
  const genA = source.stats();
  probe.start();
  await sleep(seconds * 1000);
  const latency = probe.stop();
  const cpu = cpuWindow(a, await sampleCpu(pids(), srv.sfu));
  return { latency, cpu, window: flow(genA, source.stats(), latency.frames + latency.unreadable, cpu.windowMs) };
}

const added = (l: LatencyStats, floor: FloorResult): number | undefined => (l.p50 !== undefined && floor.latency.p50 !== undefined ? round(l.p50 - floor.latency.p50, 1) : undefined);
const since = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : round(to - from, 0));

function report(run: Run): Run {
  const l = run.latency;
  console.log(
    `  ${run.route} [${run.client}]: p50 ${l.p50 ?? '-'} ms p95 ${l.p95 ?? '-'} p99 ${l.p99 ?? '-'} (${l.frames} frames, ${l.unreadable} unreadable, ${l.missing} missing, ${l.mismatched} mismatched); ` +
      `server-added p50 ${run.serverAddedP50 ?? '-'} ms; TTFF cold ${run.ttffColdMs ?? '-'} warm ${run.ttffWarmMs ?? '-'} ms; decoded ${run.window.decodedFps} fps`,
  );
  return run;
}

/** Children of this process whose command line matches (the server's ffmpegs: HLS muxer, relay, egress, recorder). */
function childPid(match: (args: string[]) => boolean): number | undefined {
  return childProcesses().find((c) => c.args[0]?.endsWith('ffmpeg') && match(c.args))?.pid;
}
const hasFormat = (args: string[], format: string) => args.some((a, i) => a === '-f' && args[i + 1] === format);

/** First request per client id (`?client=N` on playlist/FLV URLs), seen on the server's socket. */
const firstRequestAt = new Map<string, number>();
let clientCount = 0;
function watchRequests(srv: WhipcastServer): void {
  srv.http.server.prependListener('request', (request: IncomingMessage) => {
    const id = /[?&]client=(\d+)/.exec(request.url ?? '')?.[1];
    if (id !== undefined && !firstRequestAt.has(id)) firstRequestAt.set(id, performance.now());
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Clients

/** HTTP-FLV: the response body is parsed as FLV and decoded by the floor's decoder. */
async function runFlv(srv: WhipcastServer, source: TimeCodeSource, floor: FloorResult, encoderPid: number | undefined): Promise<Run> {
  const url = `${srv.httpUrl}/live/bench/std.flv`;
  const play = (onBand: (band: Buffer, at: number) => void) => {
    const decoder = procs.decoder(onBand);
    const abort = new AbortController();
    const flv = new FlvFrames((unit) => decoder.write(unit));
    const startedAt = performance.now();
    const done = fetch(url, { signal: abort.signal })
      .then(async (response) => {
        if (!response.ok || !response.body) throw new Error(`GET ${url} → ${response.status}`);
        for await (const chunk of response.body) flv.push(Buffer.from(chunk as Uint8Array));
      })
      .catch((error: unknown) => {
        if (!abort.signal.aborted) console.error(`[flv] ${(error as Error).message}`);
      });
    const close = async () => {
      abort.abort();
      await done;
      await procs.closeDecoder(decoder);
    };
    closers.add(close);
    return { decoder, startedAt, close: async () => (closers.delete(close), await close()) };
  };
  // The decoders are up before the request: their start-up is not part of a join.
  const probe = new LatencyProbe(source);
  await sleep(300);
  const first = play(probe.onBand);
  try {
    const m = await measure('HTTP-FLV', srv, source, probe, () => ({ decoder: first.decoder.pid, encoder: encoderPid }));
    const cold = since(first.startedAt, probe.firstDecodedAt);
    let warmAt: number | undefined;
    const second = play(() => (warmAt ??= performance.now()));
    await waitFor(() => warmAt !== undefined, 'HTTP-FLV: a second client', 20_000).catch(() => undefined);
    await second.close();
    return report({ route: 'HTTP-FLV', client: 'fetch + FLV demux', ...m, serverAddedP50: added(m.latency, floor), ttffColdMs: cold, ttffWarmMs: since(second.startedAt, warmAt) });
  } finally {
    await first.close();
  }
}

/** An ffmpeg HLS client decoding to the band; `id` tags its requests. */
function hlsClient(srv: WhipcastServer, client: HlsClient, onBand: (band: Buffer, at: number) => void): { decoder: FrameDecoder; id: string; spawnedAt: number } {
  const id = String(++clientCount);
  const url = `${srv.httpUrl}/live/bench/std.m3u8?client=${id}`;
  const spawnedAt = performance.now();
  return { decoder: procs.decoder(onBand, { input: ['-nostdin', ...HLS_CLIENTS[client].input, '-i', url] }), id, spawnedAt };
}

async function runHls(srv: WhipcastServer, source: TimeCodeSource, floor: FloorResult, client: HlsClient, segmentSeconds: number, encoderPid: number | undefined): Promise<Run> {
  const live = srv.registry.get('bench', 'std');
  if (!live) throw new Error('bench/std is not live');
  // Cold: the on-demand muxer stops HLS_IDLE_SECONDS after the last request. The first client starts it.
  await waitFor(() => !srv.hls.isRunning(live), 'the HLS muxer to stop (idle)', (HLS_IDLE_SECONDS + 10) * 1000);
  let coldAt: number | undefined;
  const cold = hlsClient(srv, client, () => (coldAt ??= performance.now()));
  let coldOpen = true;
  let warm: ReturnType<typeof hlsClient> | undefined;
  try {
    await waitFor(() => coldAt !== undefined, `HLS ${segmentSeconds} s ${client}: the first decoded frame (cold)`, 40_000);
    // The measured viewer joins a running stream, once the playlist lists 3 segments (where players start).
    await sleep((3 * segmentSeconds + 0.5) * 1000);
    const probe = new LatencyProbe(source);
    warm = hlsClient(srv, client, probe.onBand);
    const viewer = warm;
    await waitFor(() => probe.readable > 0, `HLS ${segmentSeconds} s ${client}: the first decoded frame (warm)`, 40_000);
    await procs.closeDecoder(cold.decoder);
    coldOpen = false;
    const m = await measure(`HLS ${segmentSeconds} s ${client}`, srv, source, probe, () => ({ decoder: viewer.decoder.pid, hls: childPid((a) => hasFormat(a, 'hls')), encoder: encoderPid }));
    return report({
      route: `HLS ${segmentSeconds} s`,
      client: HLS_CLIENTS[client].label,
      segmentSeconds,
      ...m,
      serverAddedP50: added(m.latency, floor),
      ttffColdMs: since(firstRequestAt.get(cold.id), coldAt),
      ttffWarmMs: since(firstRequestAt.get(viewer.id), probe.firstDecodedAt),
    });
  } finally {
    if (warm) await procs.closeDecoder(warm.decoder);
    if (coldOpen) await procs.closeDecoder(cold.decoder);
  }
}

/** An RTMP server for one push (ffmpeg -listen 1) writing FLV to a pipe, decoded as the floor's. */
async function rtmpReceiver(onBand: (band: Buffer, at: number) => void): Promise<{ url: string; child: ChildProcess; decoder: FrameDecoder; stopping: () => void }> {
  const url = `rtmp://127.0.0.1:${await freePortRange(1)}/in/x`;
  const decoder = procs.decoder(onBand);
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-listen', '1', '-i', url, '-map', '0:v', '-c', 'copy', '-flush_packets', '1', '-f', 'flv', 'pipe:1'];
  const child = procs.track(spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  // It ends with an I/O error when the push stops: only an exit before that is worth a line.
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`[receiver] ffmpeg exited (code ${code}, signal ${signal}): ${stderr.trim()}`);
  });
  const flv = new FlvFrames((unit) => decoder.write(unit));
  child.stdout?.on('data', (chunk: Buffer) => flv.push(chunk));
  await sleep(300); // listening
  return { url, child, decoder, stopping: () => (stopping = true) };
}

async function api(srv: WhipcastServer, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${srv.httpUrl}${path}`, { method, ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** A relay of bench/{stream} to a local RTMP receiver: latency at the receiver, CPU of the relay (and egress). */
async function runRelay(srv: WhipcastServer, source: TimeCodeSource, floor: FloorResult, stream: string, route: string, encoderPid: number | undefined): Promise<Run> {
  const probe = new LatencyProbe(source);
  const receiver = await rtmpReceiver(probe.onBand);
  const addedAt = performance.now();
  const rule = (await api(srv, 'POST', '/api/relays', { app: 'bench', stream, url: receiver.url })) as { id: string };
  try {
    const relayPid = () => childPid((a) => a.includes(receiver.url) && !a.includes('-listen'));
    const egressPid = () => childPid((a) => hasFormat(a, 'sdp'));
    const m = await measure(route, srv, source, probe, () => ({ relay: relayPid(), egress: egressPid(), receiver: receiver.child.pid, decoder: receiver.decoder.pid, encoder: encoderPid }));
    return report({ route, client: 'ffmpeg -listen 1 (RTMP server)', ...m, serverAddedP50: added(m.latency, floor), ttffColdMs: since(addedAt, probe.firstDecodedAt) });
  } finally {
    // The rule first: a relay whose receiver went away would log its failure and retry.
    receiver.stopping();
    await api(srv, 'DELETE', `/api/relays/${rule.id}`).catch((e: unknown) => console.warn(`[relay] ${(e as Error).message}`));
    await procs.kill(receiver.child);
    await procs.closeDecoder(receiver.decoder);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Recording (when the server has it: another part of the project builds it)

interface RecordingLike {
  putTemplate(input: unknown): unknown;
  deleteTemplate(id: string): boolean;
  stateOf(app: string, stream: string): { state: string; recordingId: string | undefined; segments: number; durationSeconds: number } | undefined;
  index: { get(id: string): { segments: { bytes: number; durationSeconds: number }[] } | undefined };
}

function recordingOf(srv: WhipcastServer): RecordingLike | undefined {
  const r = (srv as unknown as { recording?: Partial<RecordingLike> }).recording;
  return r && typeof r.putTemplate === 'function' && typeof r.deleteTemplate === 'function' && typeof r.stateOf === 'function' && typeof r.index?.get === 'function' ? (r as RecordingLike) : undefined;
}

interface RecordingResult {
  segments: number;
  recordedSeconds: number;
  bytes: number;
  bytesPerMinute?: number;
  recorderCpu?: number;
  recorderWindowMs: number;
}

async function runRecording(srv: WhipcastServer, recording: RecordingLike): Promise<RecordingResult> {
  recording.putTemplate({ id: 'bench', app: 'bench', stream: '*', formats: ['m3u8'], segmentSeconds: 5, spliceSeconds: 15 });
  const source = procs.source();
  const encoder = procs.track(spawnEncoder(source.fifo, settings, `rtmp://127.0.0.1:${srv.rtmpPort}/bench/rec`));
  try {
    const recorderPid = () => childPid((a) => hasFormat(a, 'segment'));
    await waitFor(() => recorderPid() !== undefined && recording.stateOf('bench', 'rec') !== undefined, 'the recorder ffmpeg', 30_000);
    const pid = recorderPid();
    const a = await sampleCpu({ recorder: pid }, srv.sfu);
    await sleep(recordSeconds * 1000);
    const cpu = cpuWindow(a, await sampleCpu({ recorder: pid }, srv.sfu));
    const id = recording.stateOf('bench', 'rec')?.recordingId;
    await procs.stopSource(source);
    await procs.kill(encoder);
    // The stream ended: the recorder closes its last segment and waits for a splice (then the server's close()).
    await waitFor(() => recording.stateOf('bench', 'rec')?.state !== 'recording', 'the recorder to close its last segment', 20_000).catch(() => undefined);
    await sleep(1000);
    const segments = (id ? recording.index.get(id)?.segments : undefined) ?? [];
    const bytes = segments.reduce((s, x) => s + x.bytes, 0);
    const recordedSeconds = round(segments.reduce((s, x) => s + x.durationSeconds, 0), 2);
    const result = {
      segments: segments.length,
      recordedSeconds,
      bytes,
      bytesPerMinute: recordedSeconds > 0 ? Math.round(bytes / (recordedSeconds / 60)) : undefined,
      recorderCpu: cpu.processes.recorder,
      recorderWindowMs: cpu.windowMs,
    };
    console.log(
      `  recording: ${result.segments} segments, ${recordedSeconds} s, ${bytes} bytes → ${result.bytesPerMinute ?? '-'} bytes per recorded minute ` +
        `(${result.bytesPerMinute ? round(result.bytesPerMinute / 1e6, 1) : '-'} MB/min); recorder ffmpeg ${result.recorderCpu ?? '-'} % CPU`,
    );
    return result;
  } finally {
    recording.deleteTemplate('bench');
    await procs.stopSource(source).catch(() => undefined);
    await procs.kill(encoder);
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function start(segmentSeconds: number): Promise<WhipcastServer> {
  const base = {
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    rtc: { port: await freePortRange(1), listenIps: [{ ip: '127.0.0.1' }], workers: 1 },
    standard: { hlsSegmentSeconds: segmentSeconds, hlsIdleSeconds: HLS_IDLE_SECONDS },
    log: { level: flags['log-level'] },
  };
  let config;
  try {
    config = resolveConfig({ ...base, recording: { directory: join(tmp, 'recordings') } });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    config = resolveConfig(base); // a server without a recording section
  }
  const srv = await startServer(config);
  watchRequests(srv);
  // fluent-ffmpeg's one-off capability probe (warmUpFfmpeg) runs at startup: let it finish before measuring.
  await sleep(2000);
  return srv;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const load = loadavg().map((x) => round(x, 2));
  const command = `node ${['dist/bench/standard.js', ...process.argv.slice(2)].join(' ')}`;
  console.log(`standard: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalMiB} MiB, node ${machine.node}, kernel ${machine.kernel}; load average ${load.join(' ')} at start`);
  console.log(`command: ${command}`);
  console.log(
    `${WIDTH}x${HEIGHT} ${FPS} fps, x264 -preset ${flags.preset} -bf 0 -g 30 -b:v ${kbps}k (+ AAC over RTMP, Opus over WHIP); ${warmupSeconds} s warm-up + ${seconds} s per client; ` +
      `HLS segments ${hlsSegments.join(', ')} s, clients ${hlsClients.join(', ')}; recording ${recordSeconds} s`,
  );

  console.log(`\nfloor (no server): encoder → FLV pipe → decoder, ${warmupSeconds} s warm-up + ${seconds} s`);
  const floor = await runFloor(procs, settings, warmupSeconds, seconds);
  console.log(`  floor p50 ${floor.latency.p50 ?? '-'} ms p95 ${floor.latency.p95 ?? '-'} (${floor.latency.frames} frames, ${floor.latency.mismatched} mismatched), encoder ${floor.encoderCpu ?? '-'} % CPU`);
  if (floor.latency.frames < FPS || floor.latency.mismatched > 0) throw new Error('the floor did not read back its time codes: nothing else can be trusted');

  const runs: Run[] = [];
  let recording: RecordingResult | undefined;
  let recordingNote: string | undefined;
  for (const [i, segmentSeconds] of hlsSegments.entries()) {
    const srv = (server = await start(segmentSeconds));
    console.log(`\nserver: ${srv.httpUrl}, RTMP 127.0.0.1:${srv.rtmpPort}, standard.hlsSegmentSeconds ${segmentSeconds}, hlsIdleSeconds ${HLS_IDLE_SECONDS}`);

    // The RTMP publisher, shared by the clients of this server.
    const source = procs.source();
    const encoder = procs.track(spawnEncoder(source.fifo, settings, `rtmp://127.0.0.1:${srv.rtmpPort}/bench/std`));
    try {
      await waitFor(() => srv.registry.get('bench', 'std') !== undefined, 'bench/std live', 30_000);
      if (i === 0) runs.push(await runFlv(srv, source, floor, encoder.pid));
      for (const client of hlsClients as HlsClient[]) runs.push(await runHls(srv, source, floor, client, segmentSeconds, encoder.pid));
      if (i === 0) runs.push(await runRelay(srv, source, floor, 'std', 'relay RTMP → RTMP', encoder.pid));
    } finally {
      await procs.stopSource(source);
      await procs.kill(encoder);
    }

    if (i === 0) {
      // WHIP in → relay out: the SFU egress (H264 copied, Opus → AAC) feeds the relay.
      const whipSource = procs.source();
      let publisher: TimeCodePublisher | undefined;
      try {
        publisher = await publishTimeCode(`${srv.httpUrl}/whip/bench/whip`, whipSource.fifo, settings, (child) => procs.track(child));
        const p = publisher;
        closers.add(p.close);
        await p.connected;
        await waitFor(() => srv.registry.get('bench', 'whip') !== undefined, 'bench/whip live', 30_000);
        runs.push(await runRelay(srv, whipSource, floor, 'whip', 'relay WHIP → RTMP', p.encoder.pid));
      } finally {
        await procs.stopSource(whipSource);
        if (publisher) {
          closers.delete(publisher.close);
          await publisher.close();
        }
      }

      const rec = recordingOf(srv);
      if (!rec) recordingNote = 'recording: not measured (no recording service)';
      else if (recordSeconds === 0) recordingNote = 'recording: not measured (--record-seconds 0)';
      else {
        console.log(`\nrecording bench/rec for ${recordSeconds} s (template: formats m3u8, 5 s segments)`);
        recording = await runRecording(srv, rec);
      }
      if (recordingNote) console.log(`\n${recordingNote}`);
    }
    await srv.close();
    server = undefined;
  }

  console.log(`\n=== Standard-latency side: glass-to-glass latency (${WIDTH}x${HEIGHT} ${FPS} fps GOP 30, ${kbps} kbit/s, ${seconds} s windows) ===`);
  printTable(
    ['route', 'client', 'lat p50', 'p95', 'p99', 'server+', 'TTFF cold', 'warm', 'frames', 'unread', 'fps', 'skipped'],
    [
      ['floor (no server)', 'FLV pipe', floor.latency.p50, floor.latency.p95, floor.latency.p99, 0, undefined, undefined, floor.latency.frames, floor.latency.unreadable, floor.window.decodedFps, floor.window.generatorSkipped] as Cell[],
      ...runs.map((r): Cell[] => [r.route, r.client, r.latency.p50, r.latency.p95, r.latency.p99, r.serverAddedP50, r.ttffColdMs, r.ttffWarmMs, r.latency.frames, r.latency.unreadable, r.window.decodedFps, r.window.generatorSkipped]),
    ],
  );
  console.log(
    '(ms; server+ = p50 − floor p50 (for WHIP it includes the werift publisher hop); TTFF cold: HLS = first playlist request → first decoded frame with the on-demand muxer ' +
      'not running, HTTP-FLV = request → first frame, relay = rule added → first frame at the receiver; warm = a second client joining meanwhile; ' +
      'fps = frames decoded per second in the window; skipped = frames the generator skipped because the encoder fell behind)',
  );

  console.log('\n=== CPU per stream (% of one core, over the latency window) ===');
  const relayRows = runs.filter((r) => r.route.startsWith('relay') || r.route.startsWith('HLS'));
  printTable(
    ['route', 'client', 'relay %', 'egress %', 'hls mux %', 'receiver %', 'decoder %', 'node %', 'mediasoup %', 'busy %', 'other %'],
    relayRows.map((r) => [r.route, r.client, r.cpu.processes.relay, r.cpu.processes.egress, r.cpu.processes.hls, r.cpu.processes.receiver, r.cpu.processes.decoder, r.cpu.node, r.cpu.mediasoup, r.cpu.machineBusy, r.cpu.otherLoad]),
  );
  console.log(
    '(relay = the server\'s relay ffmpeg (-c copy to RTMP); egress = the SFU egress ffmpeg of a WHIP stream (RTP in, H264 copied, Opus → AAC, FLV out); hls mux = the on-demand HLS muxer; ' +
      'receiver/decoder = the bench\'s RTMP server and decoder; node = this process: server + bench clients + generator thread; busy = whole machine, % of all cores; other = load not ours)',
  );
  if (recording) {
    console.log('\n=== Recording (template m3u8, 5 s segments) ===');
    printTable(
      ['segments', 'recorded s', 'bytes', 'bytes/min', 'MB/min', 'recorder %'],
      [[recording.segments, recording.recordedSeconds, recording.bytes, recording.bytesPerMinute, recording.bytesPerMinute ? round(recording.bytesPerMinute / 1e6, 1) : undefined, recording.recorderCpu]],
    );
    console.log(`(bytes/min = sum of the recorded segments' sizes / recorded minutes, video ${kbps} kbit/s + AAC 128 kbit/s in MPEG-TS; recorder % = its ffmpeg (-c copy, segment muxer) over ${round(recording.recorderWindowMs / 1000, 1)} s)`);
  } else {
    console.log(`\n${recordingNote ?? 'recording: not measured'}`);
  }

  const { file, latest } = await writeResults('standard', {
    name: 'standard',
    startedAt,
    command,
    machine: { ...machine, loadAverageAtStart: load, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) },
    config: { width: WIDTH, height: HEIGHT, fps: FPS, kbps, preset: flags.preset, gop: 30, bframes: 0, seconds, warmupSeconds, hlsSegments, hlsClients, hlsIdleSeconds: HLS_IDLE_SECONDS, recordSeconds },
    floor,
    runs,
    recording: recording ?? { measured: false, note: recordingNote },
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

async function cleanup(): Promise<void> {
  for (const close of closers) await close().catch(() => undefined);
  await procs.closeAll();
  await server?.close().catch(() => undefined);
  server = undefined;
  rmSync(tmp, { recursive: true, force: true });
  await reapChildren();
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));

runBench('standard', main, cleanup);
