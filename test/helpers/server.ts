// Starts the real server (real mediasoup workers) on free ports for one test file.
import { resolveConfig, type Config } from '../../src/config/config.js';
import { pino, type Logger } from 'pino';
import { createLogger, startServer, type WhipcastServer } from '../../src/server.js';
import { freePortRange } from './ports.js';

/** A config override: any setting may be left out, also inside list items (the schema fills in defaults). */
export type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** The last lines each server of this test file logged (at info), printed when a test fails (test/helpers/failures.ts). */
const recentLogs = new Map<string, string[]>();
const RECENT_LINES = 300;

export function recentServerLogs(): string {
  return [...recentLogs].map(([name, lines]) => `--- last ${lines.length} log lines of ${name}\n${lines.join('')}`).join('\n');
}

/** A logger that keeps the last lines in memory; with WHIPCAST_TEST_LOG set, the server logs to stdout at that level instead. */
function testLogger(config: Config): Logger {
  if (process.env.WHIPCAST_TEST_LOG) return createLogger(config);
  const lines: string[] = [];
  recentLogs.set(`server ${recentLogs.size + 1}`, lines);
  return pino({ level: 'info', base: { service: 'whipcast' } }, {
    write(line: string) {
      lines.push(line);
      if (lines.length > RECENT_LINES) lines.shift();
    },
  });
}

export async function startTestServer(overrides: DeepPartial<Config> = {}): Promise<WhipcastServer> {
  const workers = overrides.rtc?.workers ?? 1;
  const config = resolveConfig({
    ...overrides,
    http: { host: '127.0.0.1', port: 0, ...overrides.http },
    rtmp: { host: '127.0.0.1', port: 0, ...overrides.rtmp },
    rtc: { port: await freePortRange(workers), listenIps: [{ ip: '127.0.0.1' }], ...overrides.rtc, workers },
    log: { level: process.env.WHIPCAST_TEST_LOG ?? 'info' },
  });
  return startServer(config, testLogger(config));
}

/** Polls a condition (state of real objects, not time) until it holds. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
