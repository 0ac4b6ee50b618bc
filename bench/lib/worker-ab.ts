// A/B of mediasoup worker binaries inside one bench:fanout run (`--worker-bin A,B [--rounds N]`).
//
// mediasoup reads MEDIASOUP_WORKER_BIN once, when it is loaded, so each binary gets its own run of the bench in a
// child process (same flags, MEDIASOUP_WORKER_BIN set), one after the other on the same machine. Rounds are
// interleaved and alternate their order (A B, B A, A B, …) so that a drift of the machine's load over the run
// falls on both sides. The children write their usual JSON; this side prints a table of both per step: worker
// and server (Node) CPU, their total, the total per viewer and per viewer above the 0-viewer step, B / A.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, round, writeResults, type Cell } from './report.js';

export interface WorkerBin {
  label: string;
  path: string;
}

/** `a,b` or `nss=/x/a,openssl=/x/b`; labels default to the file names (made unique). */
export function parseWorkerBins(raw: string): WorkerBin[] {
  const bins = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const eq = s.indexOf('=');
      const path = resolve(eq > 0 ? s.slice(eq + 1) : s);
      return { label: eq > 0 ? s.slice(0, eq) : basename(path), path };
    });
  const seen = new Map<string, number>();
  for (const b of bins) {
    const n = (seen.get(b.label) ?? 0) + 1;
    seen.set(b.label, n);
    if (n > 1) b.label = `${b.label}#${n}`;
  }
  return bins;
}

/** The argv of one child: ours without the A/B flags (--worker-bin, --rounds; both `--x v` and `--x=v`). */
export function childArgs(argv: string[], drop: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = drop.find((d) => a === `--${d}` || a.startsWith(`--${d}=`));
    if (name === undefined) out.push(a);
    else if (a === `--${name}`) i++;
  }
  return out;
}

interface StepCpu {
  viewers: number;
  connected: number;
  cpu: { workerPct: number; serverPct: number; machineBusyPct: number; otherPct: number };
  loss: { pct: number };
  egressMbps: number;
}

interface RunOutput {
  steps: StepCpu[];
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
}

function runChild(script: string, args: string[], bin: WorkerBin, resultFile: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, ...args, '--result-file', resultFile], {
      stdio: 'inherit',
      env: { ...process.env, MEDIASOUP_WORKER_BIN: bin.path },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      if (code === 0) resolvePromise();
      else reject(new Error(`the run with ${bin.label} (${bin.path}) failed (code ${code}, signal ${signal})`));
    });
  });
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** Runs bench/fanout.js once per binary and round (child processes) and prints the comparison. */
export async function runWorkerAb(bins: WorkerBin[], rounds: number, argv: string[]): Promise<void> {
  for (const b of bins) {
    try {
      readFileSync(b.path, { flag: 'r' }).subarray(0, 1);
    } catch {
      throw new Error(`--worker-bin: cannot read ${b.path}`);
    }
  }
  const script = fileURLToPath(new URL('../fanout.js', import.meta.url));
  const args = childArgs(argv, ['worker-bin', 'rounds']);
  const dir = await mkdtemp(join(tmpdir(), 'fanout-ab-'));
  const hashes = Object.fromEntries(bins.map((b) => [b.label, sha(b.path)]));
  console.log(`fanout A/B: ${bins.map((b) => `${b.label} = ${b.path} (sha256 ${hashes[b.label]})`).join('; ')}`);
  console.log(`            ${rounds} round(s), order alternating; each run: node ${script} ${args.join(' ')}`);
  const runs: { label: string; round: number; steps: StepCpu[] }[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? bins : [...bins].reverse();
      for (const bin of order) {
        console.log(`\n##### round ${r + 1}/${rounds}: ${bin.label} (${bin.path})`);
        const file = join(dir, `${r}-${bins.indexOf(bin)}.json`);
        await runChild(script, args, bin, file);
        const out = JSON.parse(readFileSync(file, 'utf8')) as RunOutput;
        runs.push({ label: bin.label, round: r + 1, steps: out.steps });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Per binary and step: means over the rounds.
  const viewerCounts = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.viewers)))].sort((a, b) => a - b);
  type Row = { label: string; viewers: number; n: number; worker: number; server: number; total: number; perViewer?: number; marginal?: number; machine: number; loss: number; connected: number };
  const table: Row[] = [];
  for (const bin of bins) {
    const mine = runs.filter((r) => r.label === bin.label);
    const at = (v: number) => mine.flatMap((r) => r.steps.filter((s) => s.viewers === v));
    const base = at(0);
    const baseTotal = base.length ? mean(base.map((s) => s.cpu.workerPct + s.cpu.serverPct)) : undefined;
    for (const v of viewerCounts) {
      const s = at(v);
      if (!s.length) continue;
      const worker = mean(s.map((x) => x.cpu.workerPct));
      const server = mean(s.map((x) => x.cpu.serverPct));
      const total = worker + server;
      table.push({
        label: bin.label,
        viewers: v,
        n: s.length,
        worker,
        server,
        total,
        perViewer: v > 0 ? total / v : undefined,
        marginal: v > 0 && baseTotal !== undefined ? (total - baseTotal) / v : undefined,
        machine: mean(s.map((x) => x.cpu.machineBusyPct)),
        loss: mean(s.map((x) => x.loss.pct)),
        connected: Math.min(...s.map((x) => x.connected)),
      });
    }
  }
  const first = bins[0] as WorkerBin;
  const rows: Cell[][] = table.map((t) => {
    const ref = table.find((x) => x.label === first.label && x.viewers === t.viewers);
    const ratio = ref && t.label !== first.label && ref.total > 0 ? round(t.total / ref.total, 3) : undefined;
    return [t.viewers, t.label, t.n, round(t.worker, 1), round(t.server, 1), round(t.total, 1), t.perViewer !== undefined ? round(t.perViewer, 3) : undefined, t.marginal !== undefined ? round(t.marginal, 3) : undefined, ratio, round(t.machine, 0), round(t.loss, 2), t.connected];
  });
  rows.sort((a, b) => (a[0] as number) - (b[0] as number));
  console.log(`\n=== worker A/B (% of one core; means of ${rounds} round(s); total = worker + server) ===`);
  printTable(['viewers', 'worker bin', 'runs', 'worker%', 'server%', 'total%', 'per viewer', 'per viewer >0', `total / ${first.label}`, 'machine%', 'loss%', 'conn'], rows);
  const { file, latest } = await writeResults('fanout-ab', { name: 'fanout-ab', startedAt: new Date().toISOString(), bins: bins.map((b) => ({ ...b, sha256: hashes[b.label] })), rounds, args, runs, table });
  console.log(`\nresults: ${file}\n         ${latest}`);
}
