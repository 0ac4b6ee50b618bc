// Glass-to-glass latency plumbing shared by the latency benches (bench/rtmp.ts, bench/standard.ts): reading the
// time codes of decoded frames back into latencies (LatencyProbe), CPU of processes over a window (/proc), whether
// the pipeline kept up with real time, the processes a run starts (so that all are stopped on the way out), and
// the no-server floor: generator → encoder (FLV to a pipe) → decoder.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { machineBusyPercent, machineCpu, machineInfo, processCpuMs, type MachineCpu } from './proc.js';
import { percentile, round, summarize, type Distribution } from './report.js';
import { spawnEncoder, TimeCodeSource, type EncoderSettings, type GeneratorStats } from './rtmp-generator.js';
import { FlvFrames, FrameDecoder, type FrameDecoderOptions } from './rtmp-h264.js';
import { readBand } from './rtmp-timecode.js';
import { sleep, waitFor } from './server.js';

// ---------------------------------------------------------------------------------------------------------------
// Reading time codes back

export interface LatencyStats extends Distribution {
  /** Decoded frames whose time code read back (CRC ok) and matched what was stamped. */
  frames: number;
  /** Decoded frames in the window whose band did not read (CRC failed): corrupt or concealed pictures. */
  unreadable: number;
  /** Frames that read back with a valid CRC but a time other than the one stamped (must be 0). */
  mismatched: number;
  /** Largest |read-back − stamped| among mismatches, in ms. */
  maxErrorMs: number;
  /** Frames the generator stamped (between the first and last decoded in the window) that were never decoded. */
  missing: number;
  /** Every latency in the window, in decode order (ms, rounded). */
  series: number[];
}

/** Turns decoded bands into latencies; only frames decoded while recording are counted. */
export class LatencyProbe {
  private readonly latencies: number[] = [];
  private readonly counters = new Set<number>();
  private recording = false;
  private firstCounter: number | undefined;
  private lastCounter: number | undefined;
  firstDecodedAt: number | undefined;
  unreadable = 0;
  mismatched = 0;
  maxErrorMs = 0;
  readable = 0;

  constructor(private readonly source: TimeCodeSource) {}

  readonly onBand = (band: Buffer, atMs: number): void => {
    this.firstDecodedAt ??= performance.now();
    const code = readBand(band);
    if (!code) {
      if (this.recording) this.unreadable++;
      return;
    }
    const sent = this.source.sentAt(code.counter);
    if (sent !== code.timeMs) {
      this.mismatched++;
      this.maxErrorMs = Math.max(this.maxErrorMs, Math.abs((sent ?? 0) - code.timeMs));
      return;
    }
    this.readable++;
    if (!this.recording) return;
    this.latencies.push(atMs - code.timeMs);
    this.counters.add(code.counter);
    this.firstCounter ??= code.counter;
    this.lastCounter = code.counter;
  };

  start(): void {
    this.recording = true;
    this.unreadable = this.mismatched = 0;
    this.maxErrorMs = 0;
  }

  stop(): LatencyStats {
    this.recording = false;
    const l = this.latencies;
    const span = this.firstCounter !== undefined && this.lastCounter !== undefined ? ((this.lastCounter - this.firstCounter + 65536) % 65536) + 1 : 0;
    // Frames the generator skipped (the encoder fell behind) were never stamped: not missing downstream.
    let missing = 0;
    for (let i = 0; i < span; i++) {
      const counter = ((this.firstCounter ?? 0) + i) % 65536;
      if (!this.counters.has(counter) && this.source.sentAt(counter) !== undefined) missing++;
    }
    const s = summarize(l, 1);
    const p99 = percentile(l, 99);
    return {
      frames: l.length,
      unreadable: this.unreadable,
      mismatched: this.mismatched,
      maxErrorMs: this.maxErrorMs,
      missing,
      series: l.map((x) => Math.round(x)),
      ...(s.n > 0 ? { p50: s.p50, p95: s.p95, p99: p99 === undefined ? undefined : round(p99, 1), min: s.min, max: s.max, mean: s.mean } : {}),
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU over a window

export interface CpuSample {
  at: number;
  pids: Map<string, { pid: number; ms: number | undefined }>;
  node: NodeJS.CpuUsage;
  mediasoupMs: number;
  machine: MachineCpu;
}

/** CPU counters of these processes (by name), this Node process, the mediasoup workers (when given) and the machine. */
export async function sampleCpu(pids: Record<string, number | undefined>, sfu?: { workerUsage(): Promise<{ cpuMs: number }[]> }): Promise<CpuSample> {
  const map = new Map<string, { pid: number; ms: number | undefined }>();
  for (const [name, pid] of Object.entries(pids)) if (pid) map.set(name, { pid, ms: processCpuMs(pid) });
  const usage = sfu ? await sfu.workerUsage() : [];
  return { at: performance.now(), pids: map, node: process.cpuUsage(), mediasoupMs: usage.reduce((a, w) => a + w.cpuMs, 0), machine: machineCpu() };
}

export interface CpuWindow {
  windowMs: number;
  /** % of one core, per process (encoder, bridge, decoder, ...). */
  processes: Record<string, number | undefined>;
  /** CPU time over the window, ms, per process. */
  processMs: Record<string, number | undefined>;
  /** This Node process (server, RTMP parsing, werift viewer, generator thread), % of one core. */
  node: number;
  /** mediasoup worker(s), % of one core. */
  mediasoup: number;
  /** Whole machine, % of all cores. */
  machineBusy: number;
  /** Machine busy time not accounted for by the processes above, % of one core: other load on the box. */
  otherLoad: number;
}

export function cpuWindow(a: CpuSample, b: CpuSample): CpuWindow {
  const ms = b.at - a.at;
  const pct = (cpuMs: number) => round((cpuMs / ms) * 100, 1);
  const processes: Record<string, number | undefined> = {};
  const processMs: Record<string, number | undefined> = {};
  let ours = 0;
  for (const [name, start] of a.pids) {
    const end = b.pids.get(name);
    if (start.ms === undefined || end?.ms === undefined || end.pid !== start.pid) {
      processes[name] = processMs[name] = undefined;
      continue;
    }
    processes[name] = pct(end.ms - start.ms);
    processMs[name] = end.ms - start.ms;
    ours += end.ms - start.ms;
  }
  const nodeMs = (b.node.user - a.node.user + b.node.system - a.node.system) / 1000;
  const mediasoupMs = b.mediasoupMs - a.mediasoupMs;
  const busy = machineBusyPercent(a.machine, b.machine);
  const nproc = machineInfo().nproc;
  const busyCoreMs = (busy / 100) * nproc * ms;
  return {
    windowMs: round(ms, 0),
    processes,
    processMs,
    node: pct(nodeMs),
    mediasoup: pct(mediasoupMs),
    machineBusy: round(busy, 1),
    otherLoad: pct(Math.max(0, busyCoreMs - ours - nodeMs - mediasoupMs)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

/** Everything a bench run starts (ffmpeg children, generator threads, decoders), to stop on the way out. */
export class BenchProcesses {
  readonly children = new Set<ChildProcess>();
  readonly sources = new Set<TimeCodeSource>();
  readonly decoders = new Set<FrameDecoder>();
  private fifoCount = 0;

  /** `tmp`: a directory of the run's own, for the generators' FIFOs. */
  constructor(private readonly tmp: string) {}

  track<T extends ChildProcess>(child: T): T {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  async kill(child: ChildProcess | undefined): Promise<void> {
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    this.children.delete(child);
  }

  /** A new time-code generator writing into a FIFO of its own. */
  source(): TimeCodeSource {
    const source = new TimeCodeSource(join(this.tmp, `frames-${++this.fifoCount}.yuv`));
    this.sources.add(source);
    return source;
  }

  async stopSource(source: TimeCodeSource): Promise<GeneratorStats> {
    const stats = await source.stop();
    this.sources.delete(source);
    return stats;
  }

  decoder(onFrame: (band: Buffer, atMs: number) => void, options?: FrameDecoderOptions): FrameDecoder {
    const decoder = new FrameDecoder(onFrame, options);
    this.decoders.add(decoder);
    return decoder;
  }

  async closeDecoder(decoder: FrameDecoder): Promise<void> {
    await decoder.close();
    this.decoders.delete(decoder);
  }

  /** Stops every generator, decoder and child still running. */
  async closeAll(): Promise<void> {
    for (const s of this.sources) await s.stop().catch(() => undefined);
    this.sources.clear();
    for (const d of this.decoders) await d.close().catch(() => undefined);
    this.decoders.clear();
    for (const c of this.children) await this.kill(c);
  }
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The end of a run: waits for our children to exit (mediasoup workers take a moment after close()), kills the rest. */
export async function reapChildren(): Promise<void> {
  const leftovers = () =>
    execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !/\sps$/.test(l));
  await waitFor(() => leftovers().length === 0, 'child processes to exit', 5000).catch(() => undefined);
  const left = leftovers();
  if (left.length > 0) {
    console.warn(`child processes still running, killing: ${left.join('; ')}`);
    for (const line of left) {
      const pid = Number(line.split(/\s+/)[0]);
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
  } else {
    console.log('cleanup: server closed, no child process left (ps --ppid)');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The floor: generator → encoder (FLV to a pipe) → decoder, no server

export interface FloorResult {
  latency: LatencyStats;
  encoderCpu?: number;
  decoderCpu?: number;
  /** Frames the generator wrote / skipped (encoder not reading in time) during the window. */
  window: WindowFlow;
  generator: GeneratorStats;
}

/** Whether the pipeline kept up with real time during a window. */
export interface WindowFlow {
  generatorFps: number;
  /** Frames the generator skipped because the encoder did not take them in time (CPU starvation). */
  generatorSkipped: number;
  /** Frames decoded at the end of the pipeline, per second. */
  decodedFps: number;
}

export function flow(a: GeneratorStats, b: GeneratorStats, decoded: number, windowMs: number): WindowFlow {
  return {
    generatorFps: round(((b.framesWritten - a.framesWritten) * 1000) / windowMs, 1),
    generatorSkipped: b.framesSkipped - a.framesSkipped,
    decodedFps: round((decoded * 1000) / windowMs, 1),
  };
}

export async function runFloor(procs: BenchProcesses, settings: EncoderSettings, warmup: number, window: number): Promise<FloorResult> {
  const source = procs.source();
  const encoder = procs.track(spawnEncoder(source.fifo, settings, 'pipe:1'));
  const probe = new LatencyProbe(source);
  const decoder = procs.decoder(probe.onBand);
  const flv = new FlvFrames((unit) => decoder.write(unit));
  encoder.stdout?.on('data', (chunk: Buffer) => flv.push(chunk));
  try {
    await waitFor(() => probe.readable > 0, 'the first decoded frame (floor)', 20_000);
    await sleep(warmup * 1000);
    const a = await sampleCpu({ encoder: encoder.pid, decoder: decoder.pid });
    const genA = source.stats();
    probe.start();
    await sleep(window * 1000);
    const latency = probe.stop();
    const cpu = cpuWindow(a, await sampleCpu({ encoder: encoder.pid, decoder: decoder.pid }));
    const generator = source.stats();
    return { latency, encoderCpu: cpu.processes.encoder, decoderCpu: cpu.processes.decoder, window: flow(genA, generator, latency.frames + latency.unreadable, cpu.windowMs), generator };
  } finally {
    await procs.stopSource(source);
    await procs.kill(encoder);
    await procs.closeDecoder(decoder);
  }
}
