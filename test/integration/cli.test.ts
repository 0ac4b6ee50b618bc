// The built server as users run it (`npm start` runs dist/src/main.js): listeners logged, /healthz 200 once up,
// SIGTERM ends sessions and exits 0; a bad configuration stops startup with a message and exit code 2.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/server.js';
import { publish } from '../helpers/werift.js';

const main = new URL('../../dist/src/main.js', import.meta.url).pathname;

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { text: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  return { child, output };
}

it('starts from flags and environment, serves, and exits 0 on SIGTERM with every session ended', async () => {
  const [httpPort, rtcPort, rtmpPort] = [await freePortRange(1), await freePortRange(1), await freePortRange(1)];
  const { child, output } = run(['--http-port', String(httpPort), '--rtc-port', String(rtcPort), '--workers', '1'], { WHIPCAST_LOG_LEVEL: 'info', WHIPCAST_RTMP_PORT: String(rtmpPort) });
  const base = `http://127.0.0.1:${httpPort}`;
  await waitUntil(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 'healthz 200');
  expect(output.text).toContain(`HTTP (WHIP, WHEP, API, demo) listening on 0.0.0.0:${httpPort}`);
  expect(output.text).toContain(`RTMP ingest listening on 0.0.0.0:${rtmpPort}`);
  expect(output.text).toMatch(new RegExp(`WebRTC media listening on UDP\\+TCP .*port\\(s\\) ${rtcPort}`));

  const publisher = await publish(`${base}/whip/live/cli`, { audio: false });
  await publisher.connected;
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  await publisher.close();
  expect(code).toBe(0);
  expect(output.text).toContain('"reason":"server shutting down"');
});

it('refuses a bad configuration with a message naming the setting', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'whipcast-config-'));
  const file = join(dir, 'whipcast.yaml');
  await writeFile(file, 'rtc:\n  port: 70000\n');
  const { child, output } = run(['--config', file]);
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).toBe(2);
  expect(output.text).toMatch(/invalid configuration:\n {2}\/rtc\/port: .*65535/);

  const bad = run(['--http-port', 'eighty']);
  const [badCode] = (await once(bad.child, 'exit')) as [number | null];
  expect(badCode).toBe(2);
  expect(bad.output.text).toContain('--http-port / WHIPCAST_HTTP_PORT must be an integer, got "eighty"');
});
