// The standard-latency side with real media: live streams (RTMP and WHIP) played as HLS and HTTP-FLV by FFmpeg as a
// client, and relayed to an RTMP server (FFmpeg in listen mode) — checked with ffprobe and by decoding frames.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { probe, rtmpEncoder, rtmpReceiver } from '../helpers/encoder.js';
import { freePortRange } from '../helpers/ports.js';
import { childCommands } from '../helpers/proc.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, type Publisher } from '../helpers/werift.js';

let server: WhipcastServer;
let dir: string;
const publishers: Publisher[] = [];
let deadPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whipcast-standard-test-'));
  deadPort = await freePortRange(1); // nothing listens there: the configured relay to it must keep retrying
  server = await startTestServer({
    domains: [{ host: 'localhost', latencyMode: 'half-second' }],
    standard: { hlsSegmentSeconds: 1 },
    relays: [{ domain: '*', app: 'unreachable', stream: '*', url: `rtmp://127.0.0.1:${deadPort}/live/{stream}` }],
  });
});
afterAll(async () => {
  await Promise.all(publishers.map((p) => p.close()));
  await server?.close();
  // Every FFmpeg the server ran (bridges, egresses, HLS muxers, relays: they all read pipe:0) has exited.
  expect(childCommands('ffmpeg', '-i pipe:0')).toEqual([]);
  await rm(dir, { recursive: true, force: true });
});

function live(app: string, stream: string) {
  return server.registry.get(app, stream);
}

async function rtmpLive(app: string, stream: string, options: Parameters<typeof rtmpEncoder>[1] = {}) {
  const encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/${app}/${stream}`, options);
  await waitUntil(() => live(app, stream) !== undefined, `${app}/${stream} live`);
  return encoder;
}

async function whipLive(app: string, stream: string, video: 'H264' | 'VP8' = 'H264'): Promise<Publisher> {
  const publisher = await publish(`${server.httpUrl}/whip/${app}/${stream}`, { video });
  publishers.push(publisher);
  await publisher.connected;
  await waitUntil(() => live(app, stream) !== undefined, `${app}/${stream} live`);
  return publisher;
}

describe('embedded HLS and HTTP-FLV', () => {
  it('runs the SFU egress FFmpeg of a WebRTC stream only while something plays it', async () => {
    // First in the file, while no other WebRTC stream is played on the standard side.
    await whipLive('egress', 'on-demand');
    const egresses = (): number => childCommands('ffmpeg', '-f sdp', '-f flv').length;
    expect(egresses()).toBe(0);
    const played = probe(`${server.httpUrl}/live/egress/on-demand.flv`, { frames: 15 });
    await waitUntil(() => egresses() === 1, 'egress FFmpeg started');
    expect((await played).videoFrames).toBe(15);
    await waitUntil(() => egresses() === 0, 'egress FFmpeg gone after the player left');
  });

  it('serves an RTMP stream (with B-frames, kept as published) as HLS and HTTP-FLV that FFmpeg plays', async () => {
    const encoder = await rtmpLive('live', 'rtmp-hls', { bframes: 2 });
    const hls = await probe(`${server.httpUrl}/live/live/rtmp-hls.m3u8`, { frames: 45 });
    expect(hls.codecs).toEqual(['aac', 'h264']);
    expect(hls.videoFrames).toBe(45);
    const flv = await probe(`${server.httpUrl}/live/live/rtmp-hls.flv`, { frames: 45 });
    expect(flv.codecs).toEqual(['aac', 'h264']);
    expect(flv.videoFrames).toBe(45);

    // The stream ends: its HLS muxer stops and its files go.
    const stream = live('live', 'rtmp-hls');
    expect(stream && server.hls.isRunning(stream)).toBe(true);
    encoder.kill('SIGKILL');
    await waitUntil(() => stream !== undefined && !server.hls.isRunning(stream), 'HLS muxer stopped');
    const response = await fetch(`${server.httpUrl}/live/live/rtmp-hls.m3u8`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('stream live/rtmp-hls is not live');
  });

  it('serves a WHIP stream (H264 + Opus) as HLS and FLV: video copied, Opus → AAC', async () => {
    await whipLive('live', 'whip-hls');
    const hls = await probe(`${server.httpUrl}/live/live/whip-hls.m3u8`, { frames: 20 });
    expect(hls.codecs).toEqual(['aac', 'h264']);
    expect(hls.videoFrames).toBe(20);
    const flv = await probe(`${server.httpUrl}/live/live/whip-hls.flv`, { frames: 20 });
    expect(flv.codecs).toEqual(['aac', 'h264']);
  });

  it('re-encodes a VP8 WebRTC stream to H264 for the standard side', async () => {
    await whipLive('live', 'whip-vp8', 'VP8');
    const flv = await probe(`${server.httpUrl}/live/live/whip-vp8.flv`, { frames: 20 });
    expect(flv.codecs).toEqual(['aac', 'h264']);
    expect(flv.videoFrames).toBe(20);
  });

  it('refuses what it cannot serve with a clear status', async () => {
    const unknown = await fetch(`${server.httpUrl}/live/live/nobody.m3u8`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('stream live/nobody is not live');
    const badName = await fetch(`${server.httpUrl}/live/live/cam.mp4`);
    expect(badName.status).toBe(404);
    const oldSegment = await fetch(`${server.httpUrl}/live/live/nobody-3.ts`);
    expect(oldSegment.status).toBe(404);

    // A half-second domain is WebRTC only: its streams are not served as HLS/FLV.
    const viaLocalhost = server.httpUrl.replace('127.0.0.1', 'localhost');
    const publisher = await publish(`${viaLocalhost}/whip/live/realtime`, { video: 'H264' });
    publishers.push(publisher);
    await waitUntil(() => live('live', 'realtime') !== undefined, 'live/realtime live');
    expect(live('live', 'realtime')?.latencyMode).toBe('half-second');
    const halfSecond = await fetch(`${viaLocalhost}/live/live/realtime.m3u8`);
    expect(halfSecond.status).toBe(403);
    expect(await halfSecond.text()).toContain('half-second');
  });
});

describe('relay to another RTMP server', () => {
  it('pushes a WHIP stream to an RTMP server added through the API; the receiver gets decodable H264 + AAC', async () => {
    const [port] = [await freePortRange(1)];
    const file = join(dir, 'relayed.flv');
    const receiver = rtmpReceiver(`rtmp://127.0.0.1:${port}/in/whip-relay`, file);
    await whipLive('relay', 'whip-relay');
    const added = await fetch(`${server.httpUrl}/api/relays`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'relay', stream: 'whip-relay', url: `rtmp://127.0.0.1:${port}/in/{stream}` }),
    });
    expect(added.status).toBe(201);
    const rule = (await added.json()) as { id: string };
    await waitUntil(async () => (await relayStates('whip-relay')).includes('live'), 'relay live', 30_000);

    // Removing the rule stops the push: the receiver sees the end of the stream and exits.
    const exited = new Promise((resolve) => receiver.once('exit', resolve));
    expect((await fetch(`${server.httpUrl}/api/relays/${rule.id}`, { method: 'DELETE' })).status).toBe(204);
    await exited;
    expect(existsSync(file)).toBe(true);
    const received = await probe(file);
    expect(received.codecs).toEqual(['aac', 'h264']);
    expect(received.videoFrames).toBeGreaterThan(10);
  });

  it('shows a refused target as retrying with the reason, and keeps the stream served', async () => {
    await rtmpLive('unreachable', 'cam', { gop: 30 });
    // Between retries it is connecting again for a moment: status and restarts are read together.
    let status: Awaited<ReturnType<typeof relayStatus>>[number] | undefined;
    await waitUntil(async () => {
      [status] = await relayStatus('unreachable', 'cam');
      return (status?.restarts ?? 0) >= 2 && status?.state !== 'connecting';
    }, 'relay retried', 30_000);
    expect(['retrying', 'error']).toContain(status?.state);
    expect(status?.lastError).toMatch(/refused|error|failed/i);
    expect(status?.url).toBe(`rtmp://127.0.0.1:${deadPort}/live/cam`);
    expect(await (await fetch(`${server.httpUrl}/metrics`)).text()).toMatch(/whipcast_relays\{state="(retrying|error)"\} [1-9]/);
    const flv = await probe(`${server.httpUrl}/live/unreachable/cam.flv`, { frames: 10 });
    expect(flv.videoFrames).toBe(10);
  });
});

interface RelayStatusJson {
  state: string;
  lastError?: string;
  url: string;
  restarts: number;
}

async function relayStatus(app: string, stream: string): Promise<RelayStatusJson[]> {
  const body = (await (await fetch(`${server.httpUrl}/api/streams`)).json()) as { streams: { app: string; stream: string; relays: RelayStatusJson[] }[] };
  return body.streams.find((s) => s.app === app && s.stream === stream)?.relays ?? [];
}

async function relayStates(stream: string): Promise<string[]> {
  return (await relayStatus('relay', stream)).map((r) => r.state);
}
