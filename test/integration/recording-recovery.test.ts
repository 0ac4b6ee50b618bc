// The built CLI server and recording across its end: SIGKILLed mid-recording, after a restart on the same directory
// the recording is recovered (committed segments kept, the .part segment salvaged), finalised, listed, and it
// decodes; SIGTERMed, it finalises what it records before exiting 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { RecordingRecord } from '../../src/recording/RecordingIndex.js';
import { freePortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/server.js';

const main = new URL('../../dist/src/main.js', import.meta.url).pathname;
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) child.kill('SIGKILL');
});

function run(config: string): ChildProcess {
  const child = spawn(process.execPath, [main, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  children.push(child);
  return child;
}

async function indexEntries(dir: string): Promise<RecordingRecord[]> {
  const files = await readdir(join(dir, 'index')).catch(() => []);
  return Promise.all(files.filter((f) => f.endsWith('.json')).map(async (f) => JSON.parse(await readFile(join(dir, 'index', f), 'utf8')) as RecordingRecord));
}

/** A config for the built CLI on free ports, recording everything as m3u8 + mp4 with 5 s segments. */
async function cliConfig(): Promise<{ dir: string; config: string; base: string; rtmpPort: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'whipcast-recovery-'));
  const [httpPort, rtmpPort, rtcPort] = [await freePortRange(1), await freePortRange(1), await freePortRange(1)];
  const config = join(dir, 'whipcast.json');
  await writeFile(config, JSON.stringify({
    http: { host: '127.0.0.1', port: httpPort },
    rtmp: { host: '127.0.0.1', port: rtmpPort },
    rtc: { port: rtcPort, workers: 1, listenIps: [{ ip: '127.0.0.1' }] },
    log: { level: 'warn' },
    recording: { directory: join(dir, 'rec'), templates: [{ id: 'all', formats: ['m3u8', 'mp4'], segmentSeconds: 5 }] },
  }));
  return { dir, config, base: `http://127.0.0.1:${httpPort}`, rtmpPort };
}

function encode(rtmpPort: number, stream: string): ChildProcess {
  const encoder = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${stream}`], { stdio: 'ignore' });
  children.push(encoder);
  return encoder;
}

function decodes(path: string): void {
  const decoded = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], { encoding: 'utf8' });
  expect(decoded.status, decoded.stderr).toBe(0);
}

it('recovers a recording after the server was SIGKILLed', async () => {
  const { dir, config, base, rtmpPort } = await cliConfig();
  const server = run(config);
  await waitUntil(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 'healthz');
  const encoder = encode(rtmpPort, 'crash');
  // Two committed segments (≥ ~10 s), then some of a third in its .part file.
  await waitUntil(async () => ((await indexEntries(join(dir, 'rec')))[0]?.segments.length ?? 0) >= 2, 'two committed segments', 40_000);
  const before = (await indexEntries(join(dir, 'rec')))[0] as RecordingRecord;
  const committed = before.segments.reduce((sum, s) => sum + s.durationSeconds, 0);
  if (server.pid) server.kill('SIGKILL');
  await once(server, 'exit');
  if (encoder.pid) encoder.kill('SIGKILL');
  expect(before.status).toBe('recording');

  const restarted = run(config);
  await waitUntil(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 'healthz after restart');
  let record: RecordingRecord | undefined;
  await waitUntil(async () => {
    const response = await fetch(`${base}/api/recordings?app=live&stream=crash`);
    record = ((await response.json()) as { recordings: RecordingRecord[] }).recordings.find((r) => r.id === before.id);
    return record?.status === 'finished';
  }, 'recovered recording listed as finished', 30_000);
  if (!record) throw new Error('not recovered');
  const total = record.segments.reduce((sum, s) => sum + s.durationSeconds, 0);
  expect(total).toBeGreaterThanOrEqual(committed);
  for (const file of record.files) {
    decodes(join(dir, 'rec', file.path));
    expect(file.durationSeconds).toBeGreaterThanOrEqual(committed - 0.5);
  }
  expect(record.files.map((f) => f.format).sort()).toEqual(['m3u8', 'mp4']);
  restarted.kill('SIGTERM');
  await once(restarted, 'exit');
});

it('finalises what it records on SIGTERM and exits 0 (shutdown loses nothing)', async () => {
  const { dir, config, base, rtmpPort } = await cliConfig();
  const server = run(config);
  await waitUntil(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 'healthz');
  encode(rtmpPort, 'graceful');
  await waitUntil(async () => ((await indexEntries(join(dir, 'rec')))[0]?.segments.length ?? 0) >= 1, 'a committed segment', 40_000);
  const exited = once(server, 'exit');
  server.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
  // Finished at shutdown, no splice wait: both formats there, covering at least the committed segment.
  const [record] = await indexEntries(join(dir, 'rec'));
  expect(record?.status).toBe('finished');
  expect(record?.files.map((f) => f.format).sort()).toEqual(['m3u8', 'mp4']);
  for (const file of record?.files ?? []) {
    expect(file.durationSeconds).toBeGreaterThanOrEqual(4);
    decodes(join(dir, 'rec', file.path));
  }
});
