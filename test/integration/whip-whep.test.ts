// WHIP in → mediasoup → WHEP out with real clients: werift publishers fed by ffmpeg, werift viewers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { decodeH264 } from '../helpers/media.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

let server: WhipcastServer;
const open: (Publisher | Viewer)[] = [];
const track = <T extends Publisher | Viewer>(x: T): T => (open.push(x), x);

beforeAll(async () => {
  // The "once" app has no reconnect grace: its streams end with their publisher.
  server = await startTestServer({ continuity: { apps: { once: 0 } } });
});
// Each test's clients hang up (DELETE, as a WHIP/WHEP client does) when it ends, and the next test starts once the
// server has freed their sessions: no other session on the server, and its transport counts hold still.
afterEach(async () => {
  await Promise.all(open.splice(0).map(async (x) => {
    await fetch(x.session.location, { method: 'DELETE' }).catch(() => undefined);
    await x.close();
  }));
  await waitUntil(() => server.sessions.size === 0, 'the sessions of the test to be freed');
});
afterAll(async () => {
  await server?.close();
});

async function resources(): Promise<{ routers: number; webRtcTransports: number }> {
  const [worker] = await server.sfu.dump();
  return { routers: worker?.routers ?? -1, webRtcTransports: worker?.webRtcTransports ?? -1 };
}

describe('WHIP → WHEP', () => {
  it('fans an H264 + Opus publisher out to several viewers, who decode the video', async () => {
    const publisher = track(await publish(`${server.httpUrl}/whip/live/h264`, { video: 'H264' }));
    expect(publisher.session.answer).toContain('a=ice-lite');
    expect(publisher.session.location).toMatch(/\/whip\/live\/h264\/[0-9a-f-]{36}$/);
    expect(publisher.session.etag).toMatch(/^".+"$/);
    await publisher.connected;
    // Viewers join a stream already flowing (mid-GOP), so that the server has to ask the publisher for a key frame.
    await waitUntil(async () => {
      const producer = server.registry.list().find((s) => s.stream === 'h264')?.room.producers.find((p) => p.kind === 'video');
      const [stats] = (await producer?.getStats()) ?? [];
      return (stats?.packetCount ?? 0) > 100;
    }, 'publisher media flowing');

    const viewers = [track(await view(`${server.httpUrl}/whep/live/h264`)), track(await view(`${server.httpUrl}/whep/live/h264`))];
    for (const viewer of viewers) {
      await waitUntil(() => viewer.packets.video.length > 150 && viewer.packets.audio.length > 50, 'viewer media');
      const decoded = await decodeH264(viewer.packets.video);
      expect(decoded.codec).toBe('h264');
      expect(decoded.frames).toBeGreaterThan(20);
      expect(decoded.width).toBe(320);
      expect(viewer.packets.audio[0]?.header.payloadType).toBe(111);
    }
    // The server asked the publisher for a key frame when the viewers joined (PLI or FIR, counted by mediasoup).
    const producer = server.registry.list().find((s) => s.stream === 'h264')?.room.producers.find((p) => p.kind === 'video');
    const [stats] = (await producer?.getStats()) ?? [];
    expect((stats?.pliCount ?? 0) + (stats?.firCount ?? 0)).toBeGreaterThan(0);

    const [stream] = (await (await fetch(`${server.httpUrl}/api/streams`)).json() as { streams: { stream: string; viewers: number; tracks: { codec: string }[] }[] }).streams.filter((s) => s.stream === 'h264');
    expect(stream?.viewers).toBe(2);
    expect(stream?.tracks.map((t) => t.codec).sort()).toEqual(['audio/opus', 'video/H264']);
  });

  it('keeps audio and video in one stream of the answer (lip sync) unless the viewer asks ?lipsync=0', async () => {
    const publisher = track(await publish(`${server.httpUrl}/whip/live/lipsync`, { video: 'H264' }));
    await publisher.connected;
    const streamIds = (answer: string) => [...answer.matchAll(/^a=msid:(\S+) /gm)].map((m) => m[1]);
    const synced = track(await view(`${server.httpUrl}/whep/live/lipsync`));
    const [audio, video] = streamIds(synced.session.answer);
    expect(audio).toBeDefined();
    expect(video).toBe(audio);
    const unsynced = track(await view(`${server.httpUrl}/whep/live/lipsync?lipsync=0`));
    const ids = streamIds(unsynced.session.answer);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    // both still get their media
    await waitUntil(() => unsynced.packets.video.length > 30 && unsynced.packets.audio.length > 10, 'media without lip sync');
    await expect(view(`${server.httpUrl}/whep/live/lipsync?lipsync=maybe`)).rejects.toThrow(/→ 400: querystring\/lipsync/);
  });

  it('serves viewers that number codecs differently with their own payload types', async () => {
    const publisher = track(await publish(`${server.httpUrl}/whip/live/renumbered`, { video: 'H264' }));
    await publisher.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/live/renumbered`, { video: ['H264'], payloadTypes: { H264: 125, opus: 109 } }));
    expect(viewer.session.answer).toMatch(/a=rtpmap:125 H264\/90000/);
    expect(viewer.session.answer).toMatch(/a=rtpmap:109 opus\/48000\/2/);
    await waitUntil(() => viewer.packets.video.length > 100 && viewer.packets.audio.length > 20, 'renumbered media');
    expect(new Set(viewer.packets.video.map((p) => p.header.payloadType))).toEqual(new Set([125]));
    expect(new Set(viewer.packets.audio.map((p) => p.header.payloadType))).toEqual(new Set([109]));
    expect((await decodeH264(viewer.packets.video)).frames).toBeGreaterThan(10);
  });

  it('plays VP8 too, and a viewer that only decodes H264 gets a clear 400', async () => {
    const publisher = track(await publish(`${server.httpUrl}/whip/live/vp8`, { video: 'VP8', audio: false }));
    await publisher.connected;
    const viewer = track(await view(`${server.httpUrl}/whep/live/vp8`, { video: ['VP8'] }));
    await waitUntil(() => viewer.packets.video.length > 30, 'VP8 packets');
    expect(viewer.packets.video[0]?.header.payloadType).toBe(96);
    await expect(view(`${server.httpUrl}/whep/live/vp8`, { video: ['H264'] })).rejects.toThrow(/→ 400: the offer cannot receive this stream/);
  });

  it('without a grace, DELETE ends the stream: viewers are closed, nothing is left in the worker, and the name can be published again', async () => {
    const before = await resources();
    const publisher = await publish(`${server.httpUrl}/whip/once/cycle`);
    await publisher.connected;
    const viewer = await view(`${server.httpUrl}/whep/once/cycle`);
    await waitUntil(() => viewer.packets.video.length > 10, 'viewer media');
    expect((await resources()).webRtcTransports).toBe(before.webRtcTransports + 2);

    const response = await fetch(publisher.session.location, { method: 'DELETE' });
    expect(response.status).toBe(200);
    await waitUntil(async () => (await resources()).webRtcTransports === before.webRtcTransports, 'transports released');
    expect(await resources()).toEqual(before);
    expect(server.registry.list().some((s) => s.stream === 'cycle')).toBe(false);
    // The viewer's session ended with the stream (its peer sees the DTLS close); a DELETE that follows is still a 200.
    expect((await fetch(viewer.session.location, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${server.httpUrl}/whep/once/cycle`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: viewer.pc.localDescription?.sdp })).status).toBe(404);
    await Promise.all([publisher.close(), viewer.close()]);

    const again = track(await publish(`${server.httpUrl}/whip/once/cycle`));
    await again.connected;
    const viewer2 = track(await view(`${server.httpUrl}/whep/once/cycle`));
    await waitUntil(() => viewer2.packets.video.length > 30, 'media after republish');
    expect((await decodeH264(viewer2.packets.video)).frames).toBeGreaterThan(0);
  });
});
