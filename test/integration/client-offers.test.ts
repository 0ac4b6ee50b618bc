// The real offers of OBS, Chrome, Firefox and Chromium (test/fixtures/sdp.ts) sent to the running server: each is
// accepted with the codec a browser viewer can take, and its answer is one the client can apply. These clients never
// connect here (the offers are recorded), so each session is DELETEd and nothing may remain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdpTransform from 'sdp-transform';
import type { WhipcastServer } from '../../src/server.js';
import { SDP_FIXTURES } from '../fixtures/sdp.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view } from '../helpers/werift.js';

let server: WhipcastServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const publishOffers = Object.entries(SDP_FIXTURES).filter(([name]) => !/WHEP/.test(name));
const playOffers = Object.entries(SDP_FIXTURES).filter(([name]) => /WHEP|SENDRECV/.test(name));

describe('publisher offers of real clients', () => {
  it.each(publishOffers)('%s is accepted (201) with an answer the client can apply', async (name, offer) => {
    const stream = name.toLowerCase();
    const response = await fetch(`${server.httpUrl}/whip/live/${stream}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
    const answer = await response.text();
    expect(response.status, answer).toBe(201);
    const parsed = sdpTransform.parse(answer);
    const offered = sdpTransform.parse(offer);
    expect(parsed.media.map((m) => String(m.mid))).toEqual(offered.media.map((m) => String(m.mid)));
    for (const [i, m] of parsed.media.entries()) {
      if (m.port === 0) continue;
      expect(m.direction).toBe('recvonly');
      // The answer uses the offer's own payload types.
      const offeredPts = new Set((offered.media[i]?.rtp ?? []).map((r) => r.payload));
      expect(m.rtp.every((r) => offeredPts.has(r.payload))).toBe(true);
      expect(m.candidates?.length).toBeGreaterThan(0);
    }
    const live = server.registry.list().find((s) => s.stream === stream);
    expect(live?.room.producers.length).toBeGreaterThan(0);
    if (/SIMULCAST/.test(name)) {
      expect(answer).toMatch(/a=simulcast:recv \w+;\w+;\w+/);
      expect(live?.room.producers.find((p) => p.kind === 'video')?.rtpParameters.encodings).toHaveLength(3);
    }
    const location = new URL(response.headers.get('location') ?? '', server.httpUrl);
    expect((await fetch(location, { method: 'DELETE' })).status).toBe(200);
  });

  it('released every session', async () => {
    await waitUntil(async () => (await server.sfu.dump()).every((w) => w.routers === 0 && w.webRtcTransports === 0), 'nothing left');
  });
});

describe('viewer offers of real clients', () => {
  it.each(playOffers)('%s can play an H264 + Opus stream, answered with its own payload types', async (name, offer) => {
    const publisher = await publish(`${server.httpUrl}/whip/live/source-${name.toLowerCase()}`);
    try {
      await publisher.connected;
      const response = await fetch(`${server.httpUrl}/whep/live/source-${name.toLowerCase()}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
      const answer = await response.text();
      expect(response.status, answer).toBe(201);
      const offered = sdpTransform.parse(offer);
      const parsed = sdpTransform.parse(answer);
      const video = parsed.media.findIndex((m) => m.type === 'video' && m.port !== 0);
      const audio = parsed.media.findIndex((m) => m.type === 'audio' && m.port !== 0);
      for (const index of [video, audio].filter((i) => i >= 0)) {
        const section = parsed.media[index];
        const offeredSection = offered.media[index];
        expect(section?.direction).toBe('sendonly');
        const pt = section?.rtp[0]?.payload;
        const offeredCodec = offeredSection?.rtp.find((r) => r.payload === pt);
        expect(offeredCodec?.codec.toLowerCase()).toBe(section?.rtp[0]?.codec.toLowerCase());
        expect(section?.ssrcs?.length).toBeGreaterThan(0);
      }
      // Firefox here cannot decode H264 (no OpenH264 plugin offline): it gets audio only. Every other client gets video.
      if (!/FIREFOX_WHEP/.test(name)) expect(parsed.media[video]?.rtp[0]?.codec).toBe('H264');
      expect(audio).toBeGreaterThanOrEqual(0);
    } finally {
      await publisher.close();
    }
  });
});

describe('publish conflicts', () => {
  it('takeover mode: a second publisher replaces the first, and feeds the viewers of the first', async () => {
    const takeover = await startTestServer({ publishConflict: 'takeover' });
    try {
      const first = await publish(`${takeover.httpUrl}/whip/live/takeover`, { audio: false });
      await first.connected;
      const firstRoom = takeover.registry.list()[0]?.room;
      const viewer = await view(`${takeover.httpUrl}/whep/live/takeover`);
      await waitUntil(() => viewer.packets.video.length > 10, 'video of the first publisher');
      const second = await publish(`${takeover.httpUrl}/whip/live/takeover`, { audio: false });
      await second.connected;
      expect(takeover.sessions.list().map((s) => s.id)).not.toContain(first.session.location.split('/').pop());
      expect(takeover.registry.list()).toHaveLength(1);
      // With the default reconnect grace the stream's room stays, and its viewer is fed by the new publisher.
      expect(takeover.registry.list()[0]?.room).toBe(firstRoom);
      const before = viewer.packets.video.length;
      await waitUntil(() => viewer.packets.video.length > before + 30, 'video of the second publisher in the same viewer session');
      await Promise.all([first.close(), second.close(), viewer.close()]);
    } finally {
      await takeover.close();
    }
  });

});
