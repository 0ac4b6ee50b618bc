// RTMP ingest with a real FFmpeg encoder pushing to the running server and a real WebRTC viewer (werift): each
// transcode path of seed 002, what viewers receive, and what happens when the encoder or the bridge dies.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { rtmpEncoder, type EncoderOptions } from '../helpers/encoder.js';
import { decodeH264, h264AnnexB } from '../helpers/media.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { view, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
const encoders: ChildProcess[] = [];
const viewers: Viewer[] = [];

beforeAll(async () => {
  server = await startTestServer({ domains: [{ host: 'realtime.localhost', latencyMode: 'half-second' }] });
});
afterAll(async () => {
  for (const encoder of encoders) encoder.kill('SIGKILL');
  await Promise.all(viewers.map((v) => v.close()));
  await server?.close();
});

function encode(path: string, options: EncoderOptions & { host?: string } = {}): ChildProcess {
  const child = rtmpEncoder(`rtmp://${options.host ?? '127.0.0.1'}:${server.rtmpPort}/${path}`, options);
  encoders.push(child);
  return child;
}

function live(stream: string) {
  return server.registry.list().find((s) => s.stream === stream);
}

async function watch(stream: string): Promise<Viewer> {
  await waitUntil(() => live(stream) !== undefined, `${stream} live`);
  const viewer = await view(`${server.httpUrl}/whep/live/${stream}`, { video: ['H264'] });
  viewers.push(viewer);
  return viewer;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('need-based transcoding', () => {
  it('x264 with B-frames + AAC → video re-encoded without B-frames and Opus audio (video+audio)', async () => {
    const encoder = encode('live/bframes', { bframes: 2 });
    const viewer = await watch('bframes');
    expect(live('bframes')).toMatchObject({ protocol: 'rtmp', transcode: 'video+audio' });
    await waitUntil(() => viewer.packets.video.length > 400 && viewer.packets.audio.length > 50, 'transcoded media');
    const decoded = await decodeH264(viewer.packets.video);
    expect(decoded.frames).toBeGreaterThan(20);
    expect(decoded.hasBFrames).toBe(0);
    expect([decoded.width, decoded.height]).toEqual([640, 360]);
    expect(viewer.session.answer).toMatch(/a=rtpmap:111 opus\/48000\/2/);
    const streams = (await (await fetch(`${server.httpUrl}/api/streams`)).json()) as { streams: { stream: string; transcode: string }[] };
    expect(streams.streams.find((s) => s.stream === 'bframes')?.transcode).toBe('video+audio');
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/whipcast_live_streams\{protocol="rtmp",transcode="video\+audio"\} 1/);
    encoder.kill('SIGKILL');
  });

  it('x264 without B-frames + AAC → video copied bit for bit, audio transcoded (audio)', async () => {
    const encoder = encode('live/copy', { bframes: 0 });
    const viewer = await watch('copy');
    expect(live('copy')?.transcode).toBe('audio');
    await waitUntil(() => viewer.packets.video.length > 100 && viewer.packets.audio.length > 30, 'copied media');
    // The SPS viewers receive is the encoder's own: the bitstream was not re-encoded.
    const source = server.rtmp.list().find((p) => p.request.stream === 'copy')?.sourceSps;
    expect(source?.length).toBeGreaterThan(4);
    const received = h264AnnexB(viewer.packets.video);
    expect(received.includes(Buffer.concat([Buffer.from([0, 0, 1]), source ?? Buffer.alloc(0)]))).toBe(true);
    expect((await decodeH264(viewer.packets.video)).frames).toBeGreaterThan(10);
    encoder.kill('SIGKILL');
  });

  it('video-only x264 without B-frames → nothing transcoded (none)', async () => {
    const encoder = encode('live/passthrough', { bframes: 0, audio: false });
    const viewer = await watch('passthrough');
    expect(live('passthrough')?.transcode).toBe('none');
    await waitUntil(() => viewer.packets.video.length > 60, 'video');
    expect(viewer.packets.audio).toHaveLength(0);
    encoder.kill('SIGKILL');
  });

  it('a codec WebRTC cannot take (Sorenson FLV1) → re-encoded to H264 (video+audio)', async () => {
    const encoder = encode('live/flv1', { codec: 'flv' });
    const viewer = await watch('flv1');
    expect(live('flv1')?.transcode).toBe('video+audio');
    await waitUntil(() => viewer.packets.video.length > 60, 'video');
    expect((await decodeH264(viewer.packets.video)).codec).toBe('h264');
    encoder.kill('SIGKILL');
  });
});

describe('lifecycle', () => {
  it('encoder killed mid-stream → stream offline and its FFmpeg gone; the encoder reconnects → live again', async () => {
    const encoder = encode('live/reconnect', { bframes: 0 });
    await watch('reconnect');
    const publish = server.rtmp.list().find((p) => p.request.stream === 'reconnect');
    await waitUntil(() => (publish?.bridge?.pid ?? 0) > 0, 'bridge pid');
    const pid = publish?.bridge?.pid;
    encoder.kill('SIGKILL');
    await waitUntil(() => live('reconnect') === undefined, 'stream offline');
    await waitUntil(() => pid !== undefined && pid > 0 && !pidAlive(pid), 'bridge ffmpeg gone');
    expect(server.rtmp.list().some((p) => p.request.stream === 'reconnect')).toBe(false);

    const again = encode('live/reconnect', { bframes: 0 });
    const viewer = await watch('reconnect');
    await waitUntil(() => viewer.packets.video.length > 30, 'media after reconnect');
    again.kill('SIGKILL');
  });

  it('the bridge FFmpeg dies while the encoder is connected → restarted, media flows again', async () => {
    const encoder = encode('live/restart', { bframes: 0, audio: false });
    const viewer = await watch('restart');
    await waitUntil(() => viewer.packets.video.length > 30, 'first media');
    const publish = server.rtmp.list().find((p) => p.request.stream === 'restart');
    await waitUntil(() => (publish?.bridge?.pid ?? 0) > 0, 'bridge pid');
    const firstPid = publish?.bridge?.pid;
    if (firstPid === undefined || firstPid <= 0) throw new Error('no bridge pid');
    process.kill(firstPid, 'SIGKILL');
    await waitUntil(() => (publish?.bridge?.pid ?? firstPid) !== firstPid && publish?.bridge?.pid !== undefined, 'a new ffmpeg');
    expect(publish?.bridge?.restartCount).toBe(1);
    const before = viewer.packets.video.length;
    await waitUntil(() => viewer.packets.video.length > before + 60, 'media from the restarted ffmpeg');
    expect(live('restart')).toBeDefined();
    encoder.kill('SIGKILL');
  });
});

describe('refusals', () => {
  it('a second encoder on a live name is refused; so is a half-second domain and a bad name', async () => {
    const first = encode('live/taken', { bframes: 0, audio: false });
    await waitUntil(() => live('taken') !== undefined, 'first live');
    for (const [path, host] of [['live/taken', undefined], ['live/fast', 'realtime.localhost'], ['live/bad$name', undefined]] as const) {
      const refused = encode(path, host ? { host } : {});
      let stderr = '';
      refused.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(refused, 'exit')) as [number | null];
      expect(code, `${path} should be refused`).not.toBe(0);
      expect(stderr.length).toBeGreaterThan(0);
    }
    expect(live('fast')).toBeUndefined();
    first.kill('SIGKILL');
  });

  it('garbage bytes on the RTMP port close that connection and leave the server serving', async () => {
    const socket = connect(server.rtmpPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: nope\r\n\r\n'.repeat(200)));
    await once(socket, 'close');
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    const encoder = encode('live/after-garbage', { bframes: 0, audio: false });
    await waitUntil(() => live('after-garbage') !== undefined, 'a publish after garbage');
    encoder.kill('SIGKILL');
  });
});
