// Emulated networks for tests and benches: a host in a network namespace of its own, joined to the root namespace
// (where the server runs) by a veth pair, with loss (nftables) and bandwidth caps (tbf) on its link. The kernel here
// has no netem, so there is no delay or jitter emulation.
//
// Every namespace is named after the process that made it (wcnet-<pid>-<n>), and everything else it needs lives
// inside it or on its veth, so deleting the namespace removes it all. Namespaces of processes that are gone (a test
// killed midway) are removed the next time any process creates one.
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PREFIX = 'wcnet-';
/** The /30 links come out of 10.250.0.0/16: host side .1, namespace side .2 of each. */
const SUBNETS = 16384;

/** Loss in percent and rate caps in kbit/s, per direction: down = towards the namespace's host, up = from it. */
export interface LinkShape {
  downLossPercent?: number;
  upLossPercent?: number;
  downKbps?: number;
  upKbps?: number;
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The names of the emulation namespaces that exist now. */
export async function emulationNamespaces(): Promise<string[]> {
  return (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(PREFIX));
}

/** The emulation namespaces that process `pid` made and that exist now. */
export async function namespacesOf(pid: number): Promise<string[]> {
  return (await emulationNamespaces()).filter((n) => n.startsWith(`${PREFIX}${pid}-`));
}

/** The namespace name a process uses for its n-th host. */
export function namespaceName(pid: number, n: number): string {
  return `${PREFIX}${pid}-${n}`;
}

/** Deletes the namespaces (and with them their veths and rules) of processes that no longer run. */
async function removeStaleNamespaces(): Promise<string[]> {
  const stale = (await emulationNamespaces()).filter((n) => !alive(Number(n.slice(PREFIX.length).split('-')[0])));
  for (const name of stale) await ip('netns', 'del', name).catch(() => undefined);
  return stale;
}

/** The namespaces this process made and has not closed: deleted at exit, even when a test fails midway. */
const open = new Set<string>();
let exitHookInstalled = false;
let created = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const name of open) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
}

async function usedAddresses(): Promise<Set<string>> {
  const out = await ip('-o', '-4', 'addr', 'show');
  return new Set([...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1] ?? ''));
}

function subnetAddress(index: number, host: 1 | 2): string {
  const base = index * 4 + host;
  return `10.250.${(base >> 8) & 0xff}.${base & 0xff}`;
}

export class EmulatedHost {
  private closed = false;
  private shape: LinkShape = {};

  private constructor(
    /** The namespace's name (for `ip netns exec`). */
    readonly name: string,
    /** The root namespace's end of the link: where the host reaches the server. */
    readonly gatewayAddress: string,
    /** The host's own address, inside its namespace. */
    readonly address: string,
    private readonly outerVeth: string,
    private readonly innerVeth: string,
  ) {}

  /** Creates the namespace and its link (no loss, no cap). Create hosts before starting the server: it binds every local address at start. */
  static async create(): Promise<EmulatedHost> {
    await removeStaleNamespaces();
    installExitHook();
    const n = created++;
    const name = namespaceName(process.pid, n);
    const used = await usedAddresses();
    let index = (process.pid * 16 + n) % SUBNETS;
    while (used.has(subnetAddress(index, 1)) || used.has(subnetAddress(index, 2))) index = (index + 1) % SUBNETS;
    const tag = index.toString(36);
    const outerVeth = `wcv${tag}h`;
    const innerVeth = `wcv${tag}n`;
    await ip('netns', 'add', name);
    open.add(name);
    const host = new EmulatedHost(name, subnetAddress(index, 1), subnetAddress(index, 2), outerVeth, innerVeth);
    try {
      await ip('link', 'add', outerVeth, 'type', 'veth', 'peer', 'name', innerVeth, 'netns', name);
      await ip('addr', 'add', `${host.gatewayAddress}/30`, 'dev', outerVeth);
      await ip('link', 'set', outerVeth, 'up');
      await host.exec('ip', 'link', 'set', 'lo', 'up');
      await host.exec('ip', 'addr', 'add', `${host.address}/30`, 'dev', innerVeth);
      await host.exec('ip', 'link', 'set', innerVeth, 'up');
      await host.exec('ip', 'route', 'add', 'default', 'via', host.gatewayAddress);
      // Loss rules live in the namespace; their rates are set by shapeLink(). Upstream loss is dropped on the veth's
      // egress, below the sockets: a drop in the output hook would fail the sender's send() with EPERM, which the
      // sender sees (and retries), unlike loss on a real network.
      await host.exec('nft', 'add', 'table', 'inet', 'wcloss');
      await host.exec('nft', 'add', 'chain', 'inet', 'wcloss', 'down', '{ type filter hook input priority 0; policy accept; }');
      await host.exec('nft', 'add', 'table', 'netdev', 'wcloss');
      await host.exec('nft', 'add', 'chain', 'netdev', 'wcloss', 'up', `{ type filter hook egress device ${innerVeth} priority 0; policy accept; }`);
    } catch (error) {
      await host.close();
      throw error;
    }
    return host;
  }

  /** Runs a command inside the namespace and returns its output. */
  async exec(command: string, ...args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.name, command, ...args])).stdout;
  }

  /**
   * A wrapper executable that runs `program` inside the namespace, for tools that want a binary path (playwright's
   * executablePath). Removed with the host.
   */
  wrapperFor(program: string): string {
    this.wrapperDir ??= mkdtempSync(join(tmpdir(), `${this.name}-`));
    const path = join(this.wrapperDir, program.split('/').pop() ?? 'program');
    writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${this.name} ${program} "$@"\n`, { mode: 0o755 });
    return path;
  }
  private wrapperDir: string | undefined;

  /** Sets the link's loss and caps (what is left out is clean and unlimited). Takes effect at once. */
  async shapeLink(shape: LinkShape): Promise<void> {
    await this.exec('nft', 'flush', 'chain', 'inet', 'wcloss', 'down');
    await this.exec('nft', 'flush', 'chain', 'netdev', 'wcloss', 'up');
    // Partial loss drops UDP only (WebRTC media; the tests' signalling over TCP just goes through). 100 % is a dead
    // link: everything is dropped, or ICE would move to the server's TCP candidate.
    for (const [family, chain, percent] of [['inet', 'down', shape.downLossPercent], ['netdev', 'up', shape.upLossPercent]] as const) {
      if (!percent) continue;
      const match = percent >= 100 ? [] : ['meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', '<', String(percent)];
      await this.exec('nft', 'add', 'rule', family, 'wcloss', chain, ...match, 'drop');
    }
    await setRate(async (...args) => (await run('tc', args)).stdout, this.outerVeth, shape.downKbps, this.shape.downKbps !== undefined);
    await setRate((...args) => this.exec('tc', ...args), this.innerVeth, shape.upKbps, this.shape.upKbps !== undefined);
    this.shape = { ...shape };
  }

  /** Deletes the namespace, which takes its veth pair, caps and rules with it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await ip('netns', 'del', this.name);
      open.delete(this.name);
    } catch {
      // Left to the exit hook, and to the next run's removal of stale namespaces.
    }
    if (this.wrapperDir) rmSync(this.wrapperDir, { recursive: true, force: true });
  }
}

/**
 * A token bucket on the device's egress: `kbps` with a burst of ~20 ms (at least two full packets) and a queue of
 * at most 100 ms, so a capped viewer sees the loss and delay growth a congested access link gives.
 */
async function setRate(tc: (...args: string[]) => Promise<string>, device: string, kbps: number | undefined, capped: boolean): Promise<void> {
  if (capped) await tc('qdisc', 'del', 'dev', device, 'root').catch(() => undefined);
  if (kbps === undefined) return;
  const burstBytes = Math.max(3000, Math.round((kbps * 1000 * 0.02) / 8));
  await tc('qdisc', 'add', 'dev', device, 'root', 'tbf', 'rate', `${kbps}kbit`, 'burst', String(burstBytes), 'latency', '100ms');
}
