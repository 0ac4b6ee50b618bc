// The real whipcast server, in this process, on loopback: HTTP on a free port, media on 127.0.0.1 only.
import { readFileSync } from 'node:fs';
import { resolveConfig } from '../../src/config/config.js';
import { startServer, type WhipcastServer } from '../../src/server.js';
import { freePortRange } from '../../test/helpers/ports.js';
import { waitUntil } from '../../test/helpers/server.js';

export { freePortRange, waitUntil as waitFor };

export type { WhipcastServer };

export interface BenchServerOptions {
  workers: number;
  /** pino level for the server's own log (stderr would drown the tables otherwise). */
  logLevel?: string;
  viewersPerWorker?: number;
}

export async function startBenchServer(options: BenchServerOptions): Promise<WhipcastServer> {
  const config = resolveConfig({
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    rtc: {
      port: await freePortRange(options.workers),
      listenIps: [{ ip: '127.0.0.1' }],
      workers: options.workers,
      ...(options.viewersPerWorker ? { viewersPerWorker: options.viewersPerWorker } : {}),
    },
    log: { level: options.logLevel ?? 'warn' },
  });
  return startServer(config);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Closes the server and waits until its mediasoup worker processes have exited (SIGKILL after 3 s). */
export async function closeServer(server: WhipcastServer): Promise<void> {
  const pids = await server.sfu.workerUsage().then((u) => u.map((w) => w.pid), () => [] as number[]);
  await server.close();
  const deadline = Date.now() + 3000;
  while (pids.some(running) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(running)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
