// Process and machine figures from /proc (Linux): CPU time and RSS of any pid, whole-machine CPU, the CPU model.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. It is 100 on every Linux that matters. */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in ms; undefined once it has gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces: parse after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process, in bytes. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU counters (all cores), in ticks. */
export interface MachineCpu {
  busy: number;
  total: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Busy share of the whole machine between two samples, in % of ALL cores (100 = every core busy). */
export function machineBusyPercent(a: MachineCpu, b: MachineCpu): number {
  const total = b.total - a.total;
  return total > 0 ? ((b.busy - a.busy) / total) * 100 : 0;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memTotalMiB: number;
  node: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = safeRead('/proc/cpuinfo');
  const meminfo = safeRead('/proc/meminfo');
  return {
    nproc: cpus().length,
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    memTotalMiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024),
    node: process.version,
    kernel: safeRead('/proc/sys/kernel/osrelease').trim(),
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Machine-wide UDP counters (/proc/net/snmp): datagrams dropped because a socket's receive buffer was full. */
export function udpDrops(): { rcvbufErrors: number; inErrors: number } {
  const lines = safeRead('/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/);
  const values = (lines[1] ?? '').split(/\s+/).map(Number);
  const get = (name: string) => values[names.indexOf(name)] ?? 0;
  return { rcvbufErrors: get('RcvbufErrors'), inErrors: get('InErrors') };
}

/** Datagrams dropped so far (receive buffer full) by the IPv4 UDP sockets bound to these local ports (/proc/net/udp). */
export function udpSocketDrops(ports: readonly number[]): number {
  const wanted = new Set(ports);
  let drops = 0;
  for (const line of safeRead('/proc/net/udp').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (!local) continue;
    const port = parseInt(local.split(':')[1] ?? '', 16);
    if (wanted.has(port)) drops += Number(fields[fields.length - 1] ?? 0);
  }
  return drops;
}

/** The live children of a process (default: this one), with their command lines: pids the server does not expose. */
export function childProcesses(ppid = process.pid): { pid: number; args: string[] }[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const children: { pid: number; args: string[] }[] = [];
  for (const entry of entries) {
    const stat = safeRead(`/proc/${entry}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (Z: a zombie, gone for our purposes), fields[1] the parent's pid.
    if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
    children.push({ pid: Number(entry), args: safeRead(`/proc/${entry}/cmdline`).split('\0').filter((a) => a.length > 0) });
  }
  return children;
}
