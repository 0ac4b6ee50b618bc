// What a load bench runs besides its measurement: the in-process server, the publisher process (and its encoder
// child), the viewer pool. One cleanup for the end of a run and one hard stop for Ctrl-C, so nothing outlives it.
import { closeServer, type WhipcastServer } from './server.js';
import type { BenchChild, ViewerPool } from './viewer-pool.js';

export interface RigParts {
  server: WhipcastServer | undefined;
  publisherChild: BenchChild | undefined;
  encoderPid: number | undefined;
  pool: ViewerPool | undefined;
}

/** Closes the viewers, the publisher and the server, and makes sure the encoder is gone. */
export async function cleanupRig(parts: RigParts): Promise<void> {
  await parts.pool?.close().catch(() => undefined);
  await parts.publisherChild?.shutdown().catch(() => undefined);
  killEncoder(parts.encoderPid);
  if (parts.server) await closeServer(parts.server).catch(() => undefined);
}

/** On SIGINT/SIGTERM: kill every child at once and exit (the parts are read when the signal comes). */
export function stopRigOnSignals(parts: () => RigParts): void {
  const hardStop = (code: number): never => {
    const { pool, publisherChild, encoderPid, server } = parts();
    pool?.killAll();
    publisherChild?.kill();
    killEncoder(encoderPid);
    void server?.close();
    process.exit(code);
  };
  process.once('SIGINT', () => hardStop(130));
  process.once('SIGTERM', () => hardStop(143));
}

function killEncoder(pid: number | undefined): void {
  // The encoder is the publisher process's child: make sure it cannot outlive a killed publisher process.
  if (pid && pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
