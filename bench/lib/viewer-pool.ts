// Parent side of the viewer child processes: spreads N viewers over processes of at most `perProcess` each.
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ViewerCommand, ViewerReply, ViewerWindow } from './viewer-protocol.js';
import type { Feedback } from './webrtc.js';

type Command = ViewerCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

/** One child process (bench/viewer-process.js) and request/reply over its IPC channel. */
export class BenchChild {
  count = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ViewerReply) => void; reject: (e: Error) => void }>();
  exited = false;

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: ViewerReply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.type === 'error') waiter.reject(new Error(message.message));
      else waiter.resolve(message);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.pending.values()) w.reject(new Error(`viewer process ${child.pid} exited (code ${code}, signal ${signal})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** `recvBufferBytes`: SO_RCVBUF of the child's UDP sockets (0 = system default). */
  static spawn(recvBufferBytes = 0): BenchChild {
    const script = fileURLToPath(new URL('../viewer-process.js', import.meta.url));
    return new BenchChild(fork(script, [String(recvBufferBytes)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  /** Asks the process to close its peers and waits for it to exit (SIGKILL after a grace period). */
  async shutdown(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => (this.exited ? resolve() : this.child.once('exit', () => resolve())));
    await this.request({ cmd: 'close' }, 8000).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  request(command: Command, timeoutMs = 120_000): Promise<ViewerReply> {
    const id = this.nextId++;
    return new Promise<ViewerReply>((resolve, reject) => {
      if (this.exited) return reject(new Error(`viewer process ${this.pid} has exited`));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`viewer process ${this.pid}: no answer to ${command.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ ...command, id });
    });
  }
}

export interface JoinResult {
  ok: number;
  failed: number;
  errors: string[];
  joinMs: number[];
}

export class ViewerPool {
  private readonly processes: BenchChild[] = [];

  constructor(
    private readonly url: string,
    private readonly perProcess: number,
    private readonly concurrency: number,
    private readonly recvBufferBytes = 0,
    private readonly feedback: Feedback = { nack: true, twcc: true },
    private readonly light = false,
    /** Niceness of the viewer processes: the load generator yields the CPU to the server and the publisher. */
    private readonly nice = 0,
  ) {}

  get pids(): number[] {
    return this.processes.filter((p) => !p.exited).map((p) => p.pid);
  }

  get count(): number {
    return this.processes.reduce((s, p) => s + p.count, 0);
  }

  /** Adds viewers until `target` are connected and receiving (new ones fill the last process, then new processes). */
  async growTo(target: number, timeoutMs = 20_000): Promise<JoinResult> {
    const jobs: { proc: BenchChild; count: number }[] = [];
    let missing = target - this.count;
    for (const proc of this.processes) {
      if (missing <= 0) break;
      const room = this.perProcess - proc.count;
      if (room > 0 && !proc.exited) {
        const n = Math.min(room, missing);
        jobs.push({ proc, count: n });
        missing -= n;
      }
    }
    while (missing > 0) {
      const proc = this.spawn();
      const n = Math.min(this.perProcess, missing);
      jobs.push({ proc, count: n });
      missing -= n;
    }
    const results = await Promise.all(
      jobs.map(async ({ proc, count }) => {
        const r = await proc.request({ cmd: 'join', url: this.url, count, concurrency: this.concurrency, timeoutMs, feedback: this.feedback, light: this.light }, timeoutMs + count * 2000);
        if (r.type !== 'joined') throw new Error(`unexpected reply ${r.type}`);
        proc.count = r.total;
        return r;
      }),
    );
    return {
      ok: results.reduce((s, r) => s + r.ok, 0),
      failed: results.reduce((s, r) => s + r.failed, 0),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
      joinMs: results.flatMap((r) => r.joinMs),
    };
  }

  async startWindow(): Promise<void> {
    await Promise.all(this.live().map((p) => p.request({ cmd: 'window-start' })));
  }

  /** Every viewer's window, and the worst event-loop delay of the viewer processes (ms). */
  async endWindow(): Promise<{ viewers: ViewerWindow[]; loopDelayMs: { p99: number; max: number } }> {
    const replies = await Promise.all(this.live().map((p) => p.request({ cmd: 'window-end' })));
    const windows = replies.flatMap((r) => (r.type === 'window' ? [r] : []));
    return {
      viewers: windows.flatMap((r) => r.viewers),
      loopDelayMs: { p99: Math.max(0, ...windows.map((r) => r.loopDelayMs.p99)), max: Math.max(0, ...windows.map((r) => r.loopDelayMs.max)) },
    };
  }

  /** Closes every viewer and waits for the processes to exit (SIGKILL after a grace period). */
  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.shutdown()));
  }

  /** Last resort (signal handlers): kill the processes now. */
  killAll(): void {
    for (const p of this.processes) p.kill();
  }

  private live(): BenchChild[] {
    return this.processes.filter((p) => !p.exited && p.count > 0);
  }

  private spawn(): BenchChild {
    const proc = BenchChild.spawn(this.recvBufferBytes);
    if (this.nice !== 0 && proc.pid > 0) setPriority(proc.pid, this.nice);
    this.processes.push(proc);
    return proc;
  }
}
