// /metrics after real media flowed (werift WHIP publisher and WHEP viewer, an RTMP encoder): every family exists
// with sane values. The control API refuses requests without the admin token (401). Forbid kicks the publisher and
// refuses WHIP (403) and RTMP publishes of the name until resumed; after resume both are accepted again.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { rtmpEncoder } from '../helpers/encoder.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

const ADMIN = 'admin-secret';
let server: WhipcastServer;
const clients: (Publisher | Viewer)[] = [];
const encoders: ChildProcess[] = [];

beforeAll(async () => {
  server = await startTestServer({ auth: { adminToken: ADMIN } });
});
afterAll(async () => {
  for (const encoder of encoders) encoder.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.close();
});

const live = (stream: string) => server.registry.get('live', stream);
const adminFetch = (path: string, init: RequestInit = {}) =>
  fetch(`${server.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples by metric name. */
function parseMetrics(text: string): Map<string, Sample[]> {
  const families = new Map<string, Sample[]>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE (\S+) /.exec(line)?.[1];
    if (declared !== undefined && !families.has(declared)) families.set(declared, []);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match?.[1] || match[3] === undefined) throw new Error(`unparsable metrics line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] as string, m[2] as string]));
    const list = families.get(match[1]) ?? [];
    list.push({ labels, value: Number(match[3]) });
    families.set(match[1], list);
  }
  return families;
}

async function scrape(): Promise<Map<string, Sample[]>> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseMetrics(await response.text());
}

function value(metrics: Map<string, Sample[]>, name: string, labels: Record<string, string> = {}): number | undefined {
  const samples = metrics.get(name);
  const found = samples?.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found && found.length > 0 ? found.reduce((sum, s) => sum + s.value, 0) : undefined;
}

describe('control API protection', () => {
  it('answers 401 without the admin token and 403 with a wrong one', async () => {
    const none = await fetch(`${server.httpUrl}/api/streams`);
    expect(none.status).toBe(401);
    expect(await none.text()).toContain('Authorization: Bearer');
    const wrong = await fetch(`${server.httpUrl}/api/streams`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(403);
    const forbid = await fetch(`${server.httpUrl}/api/streams/live/x/forbid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ until: 60 }) });
    expect(forbid.status).toBe(401);
    expect(server.registry.forbidden()).toEqual([]);
    expect((await adminFetch('/api/streams')).status).toBe(200);
  });
});

describe('metrics after media flowed', () => {
  it('has every family with sane values', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/metered`);
    clients.push(publisher);
    await publisher.connected;
    await waitUntil(() => live('metered') !== undefined, 'stream live');
    const viewer = await view(`${server.httpUrl}/whep/live/metered`);
    clients.push(viewer);
    await waitUntil(() => viewer.packets.video.length > 100 && viewer.packets.audio.length > 20, 'media at the viewer');
    // mediasoup's bitrates are over its last second; the round trip comes with receiver reports.
    await waitUntil(async () => {
      const stats = await live('metered')?.room.stats();
      return (stats?.egress.bitrateBps ?? 0) > 0 && stats?.egress.roundTripTimeMs !== null;
    }, 'egress bitrate and RTT measured');

    const encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/live/metered-rtmp`, { bframes: 0 });
    encoders.push(encoder);
    // live, and its bridge FFmpeg running (the stream goes live as the bridge is being spawned)
    await waitUntil(() => live('metered-rtmp') !== undefined && (server.rtmp.list().find((p) => p.request.stream === 'metered-rtmp')?.bridge?.pid ?? 0) > 0, 'RTMP stream live with its bridge', 30_000);

    const m = await scrape();
    // process metrics (prom-client defaults)
    expect(value(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(m, 'process_resident_memory_bytes')).toBeGreaterThan(10e6);
    // HTTP requests by route pattern, not URL
    expect(value(m, 'whipcast_http_requests_total', { route: '/whip/:app/:stream', method: 'POST', status: '201' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'whipcast_http_requests_total', { route: '/whep/:app/:stream', method: 'POST', status: '201' })).toBeGreaterThanOrEqual(1);
    expect(m.get('whipcast_http_requests_total')?.some((s) => (s.labels.route ?? '').includes('metered'))).toBe(false);
    // streams and viewers
    expect(value(m, 'whipcast_live_streams', { protocol: 'whip', transcode: 'none' })).toBe(1);
    expect(value(m, 'whipcast_live_streams', { protocol: 'rtmp' })).toBe(1);
    expect(value(m, 'whipcast_viewers')).toBe(1);
    expect(m.has('whipcast_relays')).toBe(true);
    expect(value(m, 'whipcast_recorded_streams')).toBe(0);
    // media
    expect(value(m, 'whipcast_bitrate_bps', { direction: 'ingress' })).toBeGreaterThan(50_000);
    expect(value(m, 'whipcast_bitrate_bps', { direction: 'egress' })).toBeGreaterThan(10_000);
    for (const family of ['whipcast_rtp_packets_lost', 'whipcast_rtcp_nacks', 'whipcast_rtcp_plis']) {
      for (const direction of ['ingress', 'egress']) expect(value(m, family, { direction }), `${family}{direction="${direction}"}`).toBeGreaterThanOrEqual(0);
    }
    // loopback: (almost) nothing lost
    expect(value(m, 'whipcast_rtp_packets_lost', { direction: 'egress' })).toBeLessThan(50);
    const rtt = value(m, 'whipcast_rtt_seconds', { direction: 'egress' });
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(0.5);
    // no per-stream labels unless configured
    expect(m.get('whipcast_bitrate_bps')?.every((s) => s.labels.stream === undefined)).toBe(true);
    // FFmpeg processes (the RTMP bridge) and their CPU; mediasoup workers
    expect(value(m, 'whipcast_ffmpeg_processes', { role: 'rtmp' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'whipcast_ffmpeg_cpu_seconds', { role: 'rtmp' })).toBeGreaterThanOrEqual(0);
    expect(value(m, 'whipcast_worker_cpu_seconds', { worker: '0' })).toBeGreaterThan(0);
    expect(value(m, 'whipcast_worker_memory_bytes', { worker: '0' })).toBeGreaterThan(1e6);
    expect(value(m, 'whipcast_worker_transports', { worker: '0' })).toBeGreaterThanOrEqual(2);
    // refusals by reason (the admin requests above)
    expect(value(m, 'whipcast_auth_denials_total', { reason: 'admin_token' })).toBeGreaterThanOrEqual(3);

    // GET /api/streams: per-stream stats
    const { streams } = (await (await adminFetch('/api/streams')).json()) as { streams: Record<string, unknown>[] };
    const metered = streams.find((s) => s.stream === 'metered') as { viewers: number; bitrateInBps: number; uptimeSeconds: number; transcode: string; tracks: { kind: string; codec: string; bitrateBps: number; packets: number }[]; egress: { bitrateBps: number; rttMs: number | null } };
    expect(metered.viewers).toBe(1);
    expect(metered.bitrateInBps).toBeGreaterThan(0);
    expect(metered.tracks.find((t) => t.kind === 'video')).toMatchObject({ codec: 'video/H264' });
    expect(metered.tracks.every((t) => t.packets > 0)).toBe(true);
    expect(metered.egress.bitrateBps).toBeGreaterThan(0);
    expect(metered.egress.rttMs).not.toBeNull();
    expect(metered.transcode).toBe('none');
    expect(streams.find((s) => s.stream === 'metered-rtmp')).toMatchObject({ protocol: 'rtmp', transcode: 'audio' });
  }, 120_000);
});

describe('forbid and resume', () => {
  it('kicks a WHIP publisher and refuses WHIP and RTMP publishes of the name until resumed', async () => {
    const first = await publish(`${server.httpUrl}/whip/live/banned`);
    clients.push(first);
    await waitUntil(() => live('banned') !== undefined, 'stream live');

    const forbid = await adminFetch('/api/streams/live/banned/forbid', { method: 'POST', body: JSON.stringify({ until: 600 }) });
    expect(forbid.status).toBe(200);
    const forbidden = (await forbid.json()) as { until: string; kicked: boolean };
    expect(forbidden.kicked).toBe(true);
    await waitUntil(() => live('banned') === undefined, 'publisher kicked');
    expect(((await (await adminFetch('/api/forbidden')).json()) as { forbidden: unknown[] }).forbidden).toEqual([{ app: 'live', stream: 'banned', until: forbidden.until }]);

    // WHIP: 403 with the reason
    const refused = await publish(`${server.httpUrl}/whip/live/banned`).then(
      () => 'accepted',
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/→ 403: stream live\/banned is forbidden until \d{4}-\d\d-\d\dT/);
    // RTMP: the encoder is refused and exits
    const encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/live/banned`);
    encoders.push(encoder);
    const [code] = (await once(encoder, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(live('banned')).toBeUndefined();

    // ISO date form, in the past → 400
    expect((await adminFetch('/api/streams/live/other/forbid', { method: 'POST', body: JSON.stringify({ until: '2000-01-01T00:00:00Z' }) })).status).toBe(400);

    // resume: both protocols publish again
    expect((await adminFetch('/api/streams/live/banned/forbid', { method: 'DELETE' })).status).toBe(204);
    expect((await adminFetch('/api/streams/live/banned/forbid', { method: 'DELETE' })).status).toBe(404);
    const again = await publish(`${server.httpUrl}/whip/live/banned`);
    clients.push(again);
    await waitUntil(() => live('banned')?.protocol === 'whip', 'WHIP stream live again');
    const kick = await adminFetch('/api/streams/live/banned/kick', { method: 'POST' });
    expect(kick.status).toBe(200);
    await waitUntil(() => live('banned') === undefined, 'publisher kicked');
    const rtmp = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/live/banned`);
    encoders.push(rtmp);
    await waitUntil(() => live('banned')?.protocol === 'rtmp', 'RTMP stream live after resume', 30_000);
    expect((await adminFetch('/api/streams/live/nothing/kick', { method: 'POST' })).status).toBe(404);

    const m = await scrape();
    expect(value(m, 'whipcast_auth_denials_total', { reason: 'forbidden' })).toBeGreaterThanOrEqual(2);
  });
});
