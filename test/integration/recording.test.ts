// Recording with the real server and real FFmpeg: RTMP and WHIP publishes recorded into TS segments, playlists,
// MP4 and FLV checked with ffprobe; every trigger; splice; manual commands; the API (validation, clip, merge,
// delete); event callbacks received by a local HTTP receiver.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordingRecord } from '../../src/recording/RecordingIndex.js';
import type { WhipcastServer } from '../../src/server.js';
import type { LiveStream } from '../../src/streams/StreamRegistry.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish } from '../helpers/werift.js';
import { SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from '../../src/notify/SignedPoster.js';

let server: WhipcastServer;
let dir: string;
let receiver: Server;
let receiverUrl: string;
const callbacks: Record<string, unknown>[] = [];
const onDemandRequests: Record<string, unknown>[] = [];
/** Whether each on-demand request carried a valid signature (every outgoing POST is signed). */
const onDemandSignatures: boolean[] = [];
const CALLBACK_SECRET = 'recording-test-secret';
const encoders: ChildProcess[] = [];

async function body(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) text += (chunk as Buffer).toString();
  if (request.url === '/ondemand') {
    const timestamp = String(request.headers[TIMESTAMP_HEADER]);
    onDemandSignatures.push(request.headers[SIGNATURE_HEADER] === signPayload(CALLBACK_SECRET, timestamp, text));
  }
  return JSON.parse(text) as Record<string, unknown>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whipcast-rec-'));
  // One local receiver: /callback collects events; /ondemand answers by stream name (allow, deny, or never).
  receiver = createServer((request, response) => {
    void body(request).then((json) => {
      if (request.url === '/callback') {
        callbacks.push(json);
        response.end('ok');
      } else {
        onDemandRequests.push(json);
        if (json.stream === 'allow') response.end(JSON.stringify({ record: true, formats: ['m3u8', 'flv', 'cmaf'] }));
        else if (json.stream === 'deny') response.end(JSON.stringify({ record: false }));
        else if (json.stream === 'nocommon') response.end(JSON.stringify({ record: true, formats: ['mp4'] }));
        // 'slow': never answered (the server times out)
      }
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  server = await startTestServer({
    callbacks: { secret: CALLBACK_SECRET },
    recording: {
      directory: dir,
      callbackUrl: `${receiverUrl}/callback`,
      onDemandUrl: `${receiverUrl}/ondemand`,
      onDemandTimeoutMs: 800,
      templates: [
        { id: 'auto', app: 'rec', stream: '*', formats: ['m3u8', 'flv', 'mp4'], segmentSeconds: 5, spliceSeconds: 15 },
        { id: 'param', app: 'param', trigger: 'ingest-param', segmentSeconds: 5, spliceSeconds: 15 },
        { id: 'od', app: 'od', trigger: 'on-demand', segmentSeconds: 5, spliceSeconds: 15 },
        { id: 'manual', app: 'man', trigger: 'manual', segmentSeconds: 5, spliceSeconds: 15 },
        { id: 'whip', app: 'whip', formats: ['m3u8', 'mp4'], segmentSeconds: 5, spliceSeconds: 15 },
        { id: 'cmaf', app: 'cmaf', formats: ['cmaf', 'mp4'], segmentSeconds: 5, spliceSeconds: 15 },
      ],
    },
  });
});

afterAll(async () => {
  for (const encoder of encoders) if (encoder.exitCode === null) encoder.kill('SIGKILL');
  await server?.close();
  receiver?.close();
});

/** FFmpeg pushing a 1 s GOP test pattern + tone over RTMP; `seconds` of media, then it leaves. */
function encode(path: string, seconds: number): ChildProcess {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-bf', '0', '-pix_fmt', 'yuv420p', '-b:v', '400k',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${server.rtmpPort}/${path}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  encoders.push(child);
  return child;
}

/** A control API call: a JSON body on success, a plain-text reason (as `message`) on a refusal. */
async function api(method: string, path: string, json?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.httpUrl}${path}`, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  if (!response.ok) return { status: response.status, body: { message: text } };
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const recordings = (stream: string) => server.recording.index.list({ stream });
const live = (app: string, stream: string) => server.registry.get(app, stream) !== undefined;

interface Probe {
  duration: number;
  codecs: string[];
}

function probe(path: string): Probe {
  const result = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffprobe ${path}: ${result.stderr}`);
  const json = JSON.parse(result.stdout) as { format: { duration: string }; streams: { codec_name: string }[] };
  return { duration: Number(json.format.duration), codecs: json.streams.map((s) => s.codec_name).sort() };
}

/** Decodes the first frames: the file is really playable, not just well-formed. */
function decodes(path: string): boolean {
  const args = ['-v', 'error', ...(path.endsWith('.m3u8') ? ['-allowed_extensions', 'ALL'] : []), '-i', path, '-frames:v', '10', '-f', 'null', '-'];
  return spawnSync('ffmpeg', args, { encoding: 'utf8' }).status === 0;
}

const file = (record: RecordingRecord, format: string) => {
  const found = record.files.find((f) => f.format === format);
  if (!found) throw new Error(`no ${format} file in ${JSON.stringify(record.files)}`);
  return join(dir, found.path);
};

async function finishedRecording(stream: string, count = 1): Promise<RecordingRecord[]> {
  await waitUntil(() => recordings(stream).filter((r) => r.status !== 'recording').length >= count, `${count} finished recording(s) of ${stream}`, 40_000);
  return recordings(stream);
}

describe('automatic trigger, RTMP', () => {
  it('records segments of at most segmentSeconds into M3U8, FLV and MP4, with callbacks', async () => {
    const encoder = encode('rec/auto1', 13);
    await waitUntil(() => live('rec', 'auto1'), 'rec/auto1 live');
    await waitUntil(() => server.recording.stateOf('rec', 'auto1')?.state === 'recording', 'recording');
    await once(encoder, 'exit');
    await waitUntil(() => server.recording.stateOf('rec', 'auto1')?.state === 'splicing', 'splice wait');
    expect((await api('POST', '/api/recordings/rec/auto1/cancel_delay')).status).toBe(200);
    const [record] = await finishedRecording('auto1');
    expect(record?.status).toBe('finished');
    if (!record) return;
    for (const segment of record.segments) expect(segment.durationSeconds).toBeLessThanOrEqual(5 + 1.1);
    const total = record.segments.reduce((sum, s) => sum + s.durationSeconds, 0);
    expect(Math.abs(total - 13)).toBeLessThan(5);
    expect(record.segments.every((s) => existsSync(join(dir, s.path)) && !s.path.endsWith('.part'))).toBe(true);

    const playlist = file(record, 'm3u8');
    expect(playlist).toMatch(/record\/rec\/auto1\/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d_\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.m3u8$/);
    const text = await readFile(playlist, 'utf8');
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(text.match(/#EXT-X-PROGRAM-DATE-TIME/g)?.length).toBe(record.segments.length);
    expect(probe(playlist).codecs).toEqual(['aac', 'h264']);
    for (const format of ['mp4', 'flv']) {
      const path = file(record, format);
      const probed = probe(path);
      expect(probed.codecs).toEqual(['aac', 'h264']);
      expect(Math.abs(probed.duration - total)).toBeLessThan(1.5);
      expect(decodes(path)).toBe(true);
    }
    await waitUntil(() => callbacks.filter((c) => c.id === record.id && c.event === 'record_file_finished').length === 3, 'file callbacks');
    expect(callbacks.find((c) => c.id === record.id && c.event === 'record_started')).toMatchObject({ app: 'rec', stream: 'auto1', templateId: 'auto' });
    expect(callbacks.find((c) => c.id === record.id && c.format === 'mp4')).toMatchObject({ path: record.files.find((f) => f.format === 'mp4')?.path });
    // No half-written file under a final name, nothing left in the work directory.
    expect(spawnSync('find', [dir, '-name', '*.part'], { encoding: 'utf8' }).stdout.trim()).toBe('');
  });

  it('a stream back within spliceSeconds continues the same playlist after a discontinuity', async () => {
    // How long the stream was live on the server, publish by publish: the recording must hold all of it (an encoder
    // starved of CPU delivers its 6 s late and in a burst; what the server got is what the file must have).
    let liveMs = 0;
    let liveSince: number | undefined;
    const onLive = (s: LiveStream) => s.stream === 'splice' && (liveSince = Date.now());
    const onOffline = (s: LiveStream) => s.stream === 'splice' && liveSince !== undefined && (liveMs += Date.now() - liveSince);
    server.registry.on('live', onLive).on('offline', onOffline);
    const first = encode('rec/splice', 6);
    await waitUntil(() => server.recording.stateOf('rec', 'splice')?.state === 'recording', 'recording');
    await once(first, 'exit');
    await waitUntil(() => server.recording.stateOf('rec', 'splice')?.state === 'splicing', 'splice wait');
    const second = encode('rec/splice', 6);
    await waitUntil(() => server.recording.stateOf('rec', 'splice')?.state === 'recording', 'recording again');
    await once(second, 'exit');
    await waitUntil(() => server.recording.stateOf('rec', 'splice')?.state === 'splicing', 'second splice wait');
    await api('POST', '/api/recordings/rec/splice/cancel_delay');
    const all = await finishedRecording('splice');
    expect(all).toHaveLength(1);
    server.registry.off('live', onLive).off('offline', onOffline);
    const text = await readFile(file(all[0] as RecordingRecord, 'm3u8'), 'utf8');
    expect(text.match(/#EXT-X-DISCONTINUITY/g)?.length).toBe(1);
    // Both publishes, whole: 12 s of media at most, and at least the time the server had them live.
    const duration = probe(file(all[0] as RecordingRecord, 'mp4')).duration;
    expect(duration).toBeLessThan(12.5);
    expect(duration).toBeGreaterThan(Math.min(9, liveMs / 1000 - 1));
  });

  it('a stream back after spliceSeconds starts a second recording', async () => {
    const first = encode('rec/late', 5);
    await waitUntil(() => server.recording.stateOf('rec', 'late')?.state === 'recording', 'recording');
    await once(first, 'exit');
    await finishedRecording('late', 1); // the 15 s splice timeout passes on its own
    encode('rec/late', 5);
    await waitUntil(() => server.recording.stateOf('rec', 'late')?.state === 'splicing', 'second recording ended', 30_000);
    await api('POST', '/api/recordings/rec/late/cancel_delay');
    const all = await finishedRecording('late', 2);
    expect(all.map((r) => r.status)).toEqual(['finished', 'finished']);
    expect(all[0]?.id).not.toBe(all[1]?.id);
  }, 90_000);
});

describe('CMAF', () => {
  it('records fMP4 segments + init segment + a version 7 playlist, and an MP4 derived from them', async () => {
    const encoder = encode('cmaf/c1', 13);
    await waitUntil(() => server.recording.stateOf('cmaf', 'c1')?.state === 'recording', 'recording');
    await once(encoder, 'exit');
    await waitUntil(() => server.recording.stateOf('cmaf', 'c1')?.state === 'splicing', 'splice wait');
    expect((await api('POST', '/api/recordings/cmaf/c1/cancel_delay')).status).toBe(200);
    const [record] = await finishedRecording('c1');
    expect(record?.status).toBe('finished');
    if (!record) return;
    expect(record.files.map((f) => f.format).sort()).toEqual(['cmaf', 'mp4']);
    for (const segment of record.segments) {
      expect(segment.path).toMatch(/^record\/cmaf\/c1\/\d+_\d+\.m4s$/);
      expect(segment.durationSeconds).toBeLessThanOrEqual(5 + 1.1);
      // Fragments only: the ftyp+moov lives in the init segment.
      expect((await readFile(join(dir, segment.path))).toString('latin1', 4, 8)).toBe('moof');
    }
    const init = record.segments[0]?.init ?? '';
    expect(init).toMatch(/^record\/cmaf\/c1\/\d+_init\.mp4$/);
    expect(record.segments.every((s) => s.init === init)).toBe(true);
    expect((await readFile(join(dir, init))).toString('latin1', 4, 8)).toBe('ftyp');
    const total = record.segments.reduce((sum, s) => sum + s.durationSeconds, 0);
    expect(Math.abs(total - 13)).toBeLessThan(5);

    const playlist = file(record, 'cmaf');
    const text = await readFile(playlist, 'utf8');
    expect(text).toContain('#EXT-X-VERSION:7');
    expect(text.match(/#EXT-X-MAP:URI="\d+_init\.mp4"/g)?.length).toBe(1);
    expect(text).toContain('#EXT-X-ENDLIST');
    const probed = probe(playlist);
    expect(probed.codecs).toEqual(['aac', 'h264']);
    expect(Math.abs(probed.duration - 13)).toBeLessThan(5);
    expect(decodes(playlist)).toBe(true);

    const mp4 = file(record, 'mp4');
    expect(probe(mp4).codecs).toEqual(['aac', 'h264']);
    expect(Math.abs(probe(mp4).duration - total)).toBeLessThan(1.5);
    expect(decodes(mp4)).toBe(true);
    expect(spawnSync('find', [dir, '-name', '*.part', '-o', '-name', '*.tmp'], { encoding: 'utf8' }).stdout.trim()).toBe('');
  });
});

describe('other triggers', () => {
  const decisions = new Map<string, { record: boolean; reason: string }>();
  beforeAll(() => {
    server.recording.on('decision', (d) => decisions.set(`${d.app}/${d.stream}`, d));
  });

  it('ingest-param: NeedRecord true records, false or absent does not', async () => {
    encode(`param/yes?record_config=${encodeURIComponent('{"NeedRecord":true}')}`, 30);
    encode(`param/no?record_config=${encodeURIComponent('{"NeedRecord":false}')}`, 30);
    await waitUntil(() => decisions.has('param/yes') && decisions.has('param/no'), 'decisions');
    expect(decisions.get('param/yes')?.record).toBe(true);
    expect(decisions.get('param/no')).toMatchObject({ record: false });
    expect(server.recording.stateOf('param', 'no')).toBeUndefined();
    await waitUntil(() => (server.recording.stateOf('param', 'yes')?.segments ?? 0) >= 1, 'a segment');
    expect((await api('POST', '/api/recordings/param/yes/stop')).status).toBe(200);
    const [record] = await finishedRecording('yes');
    expect(record?.status).toBe('finished');
  });

  it('on-demand: allow (formats intersected), deny, no common format, timeout → default skip', async () => {
    for (const name of ['allow', 'deny', 'nocommon', 'slow']) encode(`od/${name}`, 30);
    await waitUntil(() => ['allow', 'deny', 'nocommon', 'slow'].every((n) => decisions.has(`od/${n}`)), 'decisions', 30_000);
    expect(decisions.get('od/allow')?.record).toBe(true);
    expect(server.recording.stateOf('od', 'allow')?.formats).toEqual(['m3u8']);
    expect(decisions.get('od/deny')?.record).toBe(false);
    expect(decisions.get('od/nocommon')).toMatchObject({ record: false, reason: expect.stringContaining('no format in common') as string });
    expect(decisions.get('od/slow')).toMatchObject({ record: false, reason: expect.stringContaining('onDemandDefault=skip') as string });
    expect(onDemandRequests.find((r) => r.stream === 'allow')).toMatchObject({ event: 'record_request', app: 'od', templateId: 'od', formats: ['m3u8'] });
    // Signed like every other outgoing POST.
    expect(onDemandSignatures.length).toBeGreaterThan(0);
    expect(onDemandSignatures.every(Boolean)).toBe(true);
    await api('POST', '/api/recordings/od/allow/stop');
  });

  it('manual: start, restart (new file), stop; cancel_delay ends a splice wait', async () => {
    const encoder = encode('man/m1', 40);
    await waitUntil(() => decisions.has('man/m1'), 'decision');
    expect(server.recording.stateOf('man', 'm1')).toBeUndefined();
    expect((await api('POST', '/api/recordings/man/m1/start', { templateId: 'nope' })).status).toBe(404);
    expect((await api('POST', '/api/recordings/man/m1/start')).status).toBe(200);
    expect((await api('POST', '/api/recordings/man/m1/start')).status).toBe(409);
    await waitUntil(() => (server.recording.stateOf('man', 'm1')?.segments ?? 0) >= 1, 'first segment');
    const firstId = server.recording.stateOf('man', 'm1')?.recordingId;
    expect((await api('POST', '/api/recordings/man/m1/restart')).status).toBe(200);
    expect(server.recording.stateOf('man', 'm1')?.recordingId).not.toBe(firstId);
    await finishedRecording('m1', 1);
    await waitUntil(() => (server.recording.stateOf('man', 'm1')?.segments ?? 0) >= 1, 'segment after restart');
    encoder.kill('SIGKILL');
    await waitUntil(() => server.recording.stateOf('man', 'm1')?.state === 'splicing', 'splice wait');
    expect((await api('POST', '/api/recordings/man/m1/cancel_delay')).status).toBe(200);
    const all = await finishedRecording('m1', 2);
    expect(all.every((r) => r.status === 'finished')).toBe(true);
    expect((await api('POST', '/api/recordings/man/m1/stop')).status).toBe(409);
  });

  it('WHIP publishes are recorded too (the SFU egress gives H264 + AAC)', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/whip/w1`, { video: 'H264' });
    await publisher.connected;
    await waitUntil(() => (server.recording.stateOf('whip', 'w1')?.segments ?? 0) >= 1, 'WHIP segment', 30_000);
    await api('POST', '/api/recordings/whip/w1/stop');
    await publisher.close();
    const [record] = await finishedRecording('w1');
    expect(record?.status).toBe('finished');
    const mp4 = probe(file(record as RecordingRecord, 'mp4'));
    expect(mp4.codecs).toContain('h264');
    expect(decodes(file(record as RecordingRecord, 'm3u8'))).toBe(true);
  }, 90_000); // its waits: up to 30 s for the first segment, 40 s for the record
});

describe('API', () => {
  it('refuses out-of-range templates with the range in the message, and applies CRUD without restart', async () => {
    const bad = await api('PUT', '/api/record-templates/t1', { segmentSeconds: 3 });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('segmentSeconds must be between 5 and 30, got 3');
    const both = await api('PUT', '/api/record-templates/t1', { formats: ['m3u8', 'cmaf'] });
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('m3u8 and cmaf');
    expect((await api('PUT', '/api/record-templates/t1', { cycleMinutes: 400 })).body.message).toContain('cycleMinutes must be between 15 and 360, got 400');
    const ok = await api('PUT', '/api/record-templates/t1', { app: 'crud', spliceSeconds: 20 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: 't1', app: 'crud', stream: '*', segmentSeconds: 30, formats: ['m3u8'] });
    expect((await api('GET', '/api/record-templates/t1')).body).toMatchObject({ spliceSeconds: 20 });
    expect(((await api('GET', '/api/record-templates')).body.templates as unknown[]).length).toBe(7);
    expect((await api('DELETE', '/api/record-templates/t1')).status).toBe(204);
    expect((await api('GET', '/api/record-templates/t1')).status).toBe(404);
  });

  it('lists, clips, merges and deletes recordings', async () => {
    const [auto] = await finishedRecording('auto1');
    const [splice] = await finishedRecording('splice');
    if (!auto || !splice) throw new Error('recordings missing');
    const listed = (await api('GET', `/api/recordings?app=rec&stream=auto1&from=${encodeURIComponent(auto.startedAt)}`)).body.recordings as RecordingRecord[];
    expect(listed.map((r) => r.id)).toEqual([auto.id]);
    expect(((await api('GET', '/api/recordings?app=rec&to=2000-01-01T00:00:00Z')).body.recordings as unknown[]).length).toBe(0);

    const start = Date.parse(auto.startedAt);
    const clip = await api('POST', '/api/recordings/clip', { id: auto.id, from: new Date(start + 6000).toISOString(), to: new Date(start + 8000).toISOString() });
    expect(clip.status).toBe(201);
    const clipRecord = clip.body as unknown as RecordingRecord;
    expect(clipRecord.segments.length).toBeLessThan(auto.segments.length);
    expect(probe(file(clipRecord, 'm3u8')).codecs).toEqual(['aac', 'h264']);

    const merge = await api('POST', '/api/recordings/merge', { ids: [auto.id, splice.id] });
    expect(merge.status).toBe(201);
    const merged = merge.body as unknown as RecordingRecord;
    const mergedText = await readFile(file(merged, 'm3u8'), 'utf8');
    expect(mergedText.match(/#EXT-X-DISCONTINUITY/g)?.length).toBe(2);
    expect(probe(file(merged, 'm3u8')).duration).toBeGreaterThan(20);
    expect((await api('POST', '/api/recordings/merge', { ids: [auto.id, 'rec_missing'] })).status).toBe(404);

    // Deleting the source keeps the segments the clip still uses; deleting the clip then removes them.
    expect((await api('DELETE', `/api/recordings/${auto.id}`)).status).toBe(204);
    expect(existsSync(file(auto, 'mp4'))).toBe(false);
    expect(clipRecord.segments.every((s) => existsSync(join(dir, s.path)))).toBe(true);
    expect((await api('GET', `/api/recordings/${auto.id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/recordings/${merged.id}`)).status).toBe(204);
    expect((await api('DELETE', `/api/recordings/${clipRecord.id}`)).status).toBe(204);
    expect(clipRecord.segments.some((s) => existsSync(join(dir, s.path)))).toBe(false);
  });
});
