// Bandwidth estimation for a browser viewer: Chromium's WHEP answer keeps the header-extension ids of its own offer
// (transport-cc, abs-send-time, mid), the server sends with them (the per-consumer extension ids of
// scripts/patches), and the viewer's transport-cc feedback reaches mediasoup's estimator, whose estimate moves.
import { expect, it } from 'vitest';
import { WebRtcViewer } from '../../sfu/index.js';
import { framesDecoded, openPlayer, pageSdp, serverAndChromium } from '../helpers/browser.js';
import { waitUntil } from '../helpers/server.js';
import { publish } from '../helpers/werift.js';

// The estimator starts under the publisher's ~500 kbit/s, so acknowledged feedback must raise it. Started above
// the stream's rate (the 1.5 Mbit/s default), an application-limited estimate may rightly stay where it began.
const rig = serverAndChromium({ rtc: { initialAvailableOutgoingBitrate: 100_000 } });

const TRANSPORT_CC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';
const MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';

/** id → URI of the a=extmap lines of one kind's m= section. */
function extmaps(sdp: string, kind: 'audio' | 'video'): Map<number, string> {
  const section = sdp.split(/\r?\nm=/).find((s) => s.startsWith(kind)) ?? '';
  return new Map([...section.matchAll(/a=extmap:(\d+)(?:\/\w+)? (\S+)/g)].map(([, id, uri]) => [Number(id), uri ?? '']));
}

it("answers a Chromium viewer with its own extension ids, and estimates its bandwidth from its transport-cc feedback", async () => {
  const { server, browser } = rig;
  const publisher = await publish(`${server.httpUrl}/whip/live/bwe`);
  try {
    await publisher.connected;
    const page = await openPlayer(browser, server.httpUrl, 'live/bwe');
    await waitUntil(async () => (await framesDecoded(page)) > 30, 'Chromium to decode video');

    const { offer, answer } = await pageSdp(page);
    for (const kind of ['audio', 'video'] as const) {
      const offered = extmaps(offer, kind);
      const answered = extmaps(answer, kind);
      for (const [id, uri] of answered) expect(offered.get(id), `${kind} extmap ${id} ${uri}`).toBe(uri);
      expect([...answered.values()]).toContain(MID);
    }
    expect([...extmaps(answer, 'video').values()]).toEqual(expect.arrayContaining([TRANSPORT_CC, ABS_SEND_TIME]));

    const session = server.sessions.list().find((s) => s.kind === 'whep' && s.stream === 'bwe');
    const viewer = session?.peer;
    if (!(viewer instanceof WebRtcViewer)) throw new Error('no WHEP viewer session');
    // The estimator starts at rtc.initialAvailableOutgoingBitrate; feedback from the viewer raises it.
    const initial = server.config.rtc.initialAvailableOutgoingBitrate;
    await waitUntil(async () => {
      const estimate = await viewer.availableBitrate();
      return estimate !== undefined && estimate > initial;
    }, 'the bandwidth estimate to follow transport-cc feedback');
    // /api/streams shows it per viewer.
    const body = (await (await fetch(`${server.httpUrl}/api/streams/live/bwe`)).json()) as { viewerLinks: { id: string; availableBitrateBps: number | null; layers: unknown }[] };
    expect(body.viewerLinks).toEqual([{ id: viewer.id, availableBitrateBps: expect.any(Number) as number, layers: null }]);
    expect(await framesDecoded(page)).toBeGreaterThan(30);
    await page.close();
  } finally {
    await publisher.close();
  }
});
