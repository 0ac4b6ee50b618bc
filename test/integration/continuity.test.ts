// Continuity: a stream whose publisher leaves waits for a new one (its grace), and WHEP viewers keep their sessions:
// a publisher that comes back within the grace, over WHIP or RTMP, feeds them in the same PeerConnection. Judged
// by the RTP the viewers receive (one SSRC, sequence numbers that go on) and by decoded frames.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { killProcess as kill, rtmpEncoder } from '../helpers/encoder.js';
import { decodeH264 } from '../helpers/media.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
const open: (Publisher | Viewer)[] = [];
const track = <T extends Publisher | Viewer>(x: T): T => (open.push(x), x);

beforeAll(async () => {
  // The default domain keeps the default 10 s grace; the "brief" app's is 1 s, for the expiry test.
  server = await startTestServer({ continuity: { apps: { brief: 1 } } });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map(async (x) => {
    await fetch(x.session.location, { method: 'DELETE' }).catch(() => undefined);
    await x.close();
  }));
  for (const w of server.registry.waitingStreams()) w.room.close();
  await waitUntil(() => server.sessions.size === 0, 'the sessions of the test to be freed');
});
afterAll(async () => {
  await server?.close();
});

const whepSessions = (stream: string): string[] => server.sessions.list().filter((s) => s.kind === 'whep' && s.stream === stream).map((s) => s.id);
const isWaiting = (stream: string): boolean => server.registry.waitingStreams().some((w) => w.stream === stream);

/** Sequence numbers of a run of packets go on one by one (allowing for reordering and a lost packet or two). */
function largestSeqJump(packets: { header: { sequenceNumber: number } }[]): number {
  let largest = 0;
  for (let i = 1; i < packets.length; i++) {
    const jump = ((packets[i]?.header.sequenceNumber ?? 0) - (packets[i - 1]?.header.sequenceNumber ?? 0) + 0x10000) & 0xffff;
    largest = Math.max(largest, jump > 0x8000 ? 0 : jump);
  }
  return largest;
}

describe('reconnect grace', () => {
  it('a WHIP publisher that comes back within the grace feeds the same WHEP session: one SSRC, sequence numbers that go on, frames that decode', async () => {
    const first = await publish(`${server.httpUrl}/whip/live/again`, { video: 'H264' });
    await first.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/live/again`));
    await waitUntil(() => viewer.packets.video.length > 60, 'video from the first publisher');
    const [session] = whepSessions('again');

    await fetch(first.session.location, { method: 'DELETE' });
    await first.close();
    await waitUntil(() => isWaiting('again'), 'the stream to wait for a new publisher');
    // Still live, waiting: the stream's feed (HLS, FLV) and its viewers stay.
    expect(server.registry.get('live', 'again')?.feed.ended).toBe(false);
    expect(whepSessions('again')).toEqual([session]);
    const before = viewer.packets.video.length;

    const second = track(await publish(`${server.httpUrl}/whip/live/again`, { video: 'H264' }));
    await second.connected;
    await waitUntil(() => viewer.packets.video.length > before + 150, 'video from the second publisher in the same session');
    expect(isWaiting('again')).toBe(false);
    expect(whepSessions('again')).toEqual([session]);
    expect(viewer.connectionState()).toBe('connected');
    const ssrcs = new Set(viewer.packets.video.map((p) => p.header.ssrc));
    expect(ssrcs.size).toBe(1);
    expect(largestSeqJump(viewer.packets.video)).toBeLessThan(10);
    // The second publisher's media, from its first key frame on, decodes.
    const decoded = await decodeH264(viewer.packets.video.slice(before));
    expect(decoded.frames).toBeGreaterThan(20);
    expect(viewer.packets.audio.length).toBeGreaterThan(0);
  });

  it('an RTMP publisher that comes back within the grace feeds the same WHEP session', async () => {
    const rtmpUrl = `rtmp://127.0.0.1:${server.rtmpPort}/live/rtmp-again`;
    const encoder = rtmpEncoder(rtmpUrl);
    await waitUntil(() => server.registry.get('live', 'rtmp-again') !== undefined, 'the RTMP stream to go live');
    const viewer = track(await view(`${server.httpUrl}/whep/live/rtmp-again`, { video: ['H264'] }));
    await waitUntil(() => viewer.packets.video.length > 60, 'video from the first encoder');
    const [session] = whepSessions('rtmp-again');
    await kill(encoder);
    await waitUntil(() => isWaiting('rtmp-again'), 'the stream to wait for a new publisher');
    const before = viewer.packets.video.length;

    const again = rtmpEncoder(rtmpUrl);
    try {
      await waitUntil(() => viewer.packets.video.length > before + 150, 'video from the restarted encoder in the same session', 30_000);
      expect(whepSessions('rtmp-again')).toEqual([session]);
      expect(new Set(viewer.packets.video.map((p) => p.header.ssrc)).size).toBe(1);
      expect(largestSeqJump(viewer.packets.video)).toBeLessThan(10);
      expect((await decodeH264(viewer.packets.video.slice(before))).frames).toBeGreaterThan(20);
    } finally {
      await kill(again);
    }
  });

  it('a publisher of another codec ends the waiting sessions, and goes live itself', async () => {
    const first = await publish(`${server.httpUrl}/whip/live/recodec`, { video: 'H264' });
    await first.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/live/recodec`));
    await waitUntil(() => viewer.packets.video.length > 30, 'video from the H264 publisher');
    await fetch(first.session.location, { method: 'DELETE' });
    await first.close();
    await waitUntil(() => isWaiting('recodec'), 'the stream to wait');

    const vp8 = track(await publish(`${server.httpUrl}/whip/live/recodec`, { video: 'VP8' }));
    await vp8.connected;
    await waitUntil(() => whepSessions('recodec').length === 0, 'the H264 viewer session to end');
    expect(server.registry.get('live', 'recodec')?.room.tracks().map((t) => t.codec.mimeType)).toContain('video/VP8');
    const next = track(await view(`${server.httpUrl}/whep/live/recodec`, { video: ['VP8'] }));
    await waitUntil(() => next.packets.video.length > 30, 'VP8 for a new viewer');
  });

  it('after the grace the stream ends: sessions close, and a play is 404', async () => {
    const first = await publish(`${server.httpUrl}/whip/brief/gone`, { video: 'H264' });
    await first.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/brief/gone`));
    await waitUntil(() => viewer.packets.video.length > 30, 'video');
    await fetch(first.session.location, { method: 'DELETE' });
    await first.close();
    await waitUntil(() => isWaiting('gone'), 'the stream to wait');
    await waitUntil(() => whepSessions('gone').length === 0 && !isWaiting('gone'), 'the 1 s grace to run out and the session to end');
    const response = await fetch(`${server.httpUrl}/whep/brief/gone`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: viewer.session.answer });
    expect(response.status).toBe(404);
    const [worker] = await server.sfu.dump();
    expect(worker?.webRtcTransports).toBe(0);
  });
});
