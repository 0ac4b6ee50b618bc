// Third-party WHIP/WHEP clients against whipcast, in the order of calls they really make. The medooze `whip-whep`
// npm package (WHIPClient, WHEPClient) is a browser library: it runs here in a headless Chromium page (fake camera
// and microphone) served by this test on the server's own origin. It sends its offer at once and trickles its
// candidates by PATCH, and its stop() closes the RTCPeerConnection BEFORE it sends DELETE.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Page, Request } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { framesDecoded, rtpStats, serverAndChromium } from '../helpers/browser.js';
import { waitUntil } from '../helpers/server.js';
import { publish } from '../helpers/werift.js';
import { sdpFragment, WhipWhepSession } from '../helpers/whip-whep.js';

/** What the page below puts on `window.medooze`. */
interface MedoozePage {
  publish(url: string): Promise<void>;
  view(url: string): Promise<void>;
  stop(): Promise<void>;
}
declare global {
  interface Window {
    medooze?: MedoozePage;
  }
}

const packageFile = (file: string): string => createRequire(import.meta.url).resolve(`whip-whep/${file}`);

// The package's README usage: the page makes the connection (max-bundle; sendonly tracks or recvonly
// transceivers), the client does the signalling. The page also sets window.whipcast.session.pc, where the browser
// helpers (framesDecoded, rtpStats) read a page's connection.
const PAGE = `<!doctype html>
<meta charset="utf-8"><title>medooze whip-whep</title>
<script type="module">
import { WHIPClient } from './whip.js';
import { WHEPClient } from './whep.js';
let client;
const connection = () => {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  window.whipcast = { session: { pc } };
  return pc;
};
window.medooze = {
  async publish(url) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    const pc = connection();
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
    client = new WHIPClient();
    await client.publish(pc, url);
  },
  async view(url) {
    const pc = connection();
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    client = new WHEPClient();
    await client.view(pc, url);
  },
  stop: () => client.stop(),
};
</script>`;

/** One request of the page to a WHIP/WHEP endpoint or session, as answered (status 0: no answer at all). */
interface Exchange {
  method: string;
  path: string;
  status: number;
  contentType: string | undefined;
  ifMatch: string | undefined;
  /** The response's ETag. */
  etag: string | undefined;
}

const rig = serverAndChromium();

const isSignalling = (url: URL): boolean => /^\/wh[ie]p\//.test(url.pathname);

/**
 * A page with the medooze clients loaded, under /third-party/ on the server's origin (the files come from
 * node_modules; the server never sees those requests), recording every WHIP/WHEP exchange.
 *
 * Its DELETEs are held until the server has ended the session by itself: the client closes its connection first,
 * and whether the DTLS close or the DELETE reaches the server first is a race. Holding the DELETE makes the test
 * take, every time, the path that this order of calls leads to on a real network: a DELETE of a session that has
 * just ended, which must answer 200 all the same.
 */
async function medoozePage(): Promise<{ page: Page; exchanges: Exchange[] }> {
  const page = await rig.browser.newPage();
  const exchanges: Exchange[] = [];
  const answered = new WeakSet<Request>();
  // allHeaders(): headers() leaves out some the browser adds late, If-Match among them.
  const record = async (request: Request, status: number, etag?: string) => {
    const url = new URL(request.url());
    if (!isSignalling(url)) return;
    const headers = await request.allHeaders();
    exchanges.push({ method: request.method(), path: url.pathname, status, contentType: headers['content-type'], ifMatch: headers['if-match'], etag });
  };
  page.on('response', (response) => {
    answered.add(response.request());
    void record(response.request(), response.status(), response.headers().etag);
  });
  // Also fired for an answered request whose body nobody read when the page goes (the client ignores DELETE's).
  page.on('requestfailed', (request) => {
    if (!answered.has(request)) void record(request, 0);
  });
  await page.route(`${rig.server.httpUrl}/third-party/*`, async (route) => {
    const name = new URL(route.request().url()).pathname.split('/').at(-1);
    if (name === 'whip.js' || name === 'whep.js') await route.fulfill({ path: packageFile(name), contentType: 'text/javascript' });
    else if (name === 'medooze.html') await route.fulfill({ body: PAGE, contentType: 'text/html' });
    else await route.fulfill({ status: 404 });
  });
  await page.route((url) => isSignalling(url), async (route) => {
    if (route.request().method() !== 'DELETE') return route.fallback();
    const [, kind, , , id] = new URL(route.request().url()).pathname.split('/');
    if ((kind === 'whip' || kind === 'whep') && id !== undefined) {
      await waitUntil(() => rig.server.sessions.get(kind, id) === undefined, `the server to end ${kind} session ${id} after the client closed its connection`).catch(() => undefined);
    }
    await route.continue();
  });
  await page.goto(`${rig.server.httpUrl}/third-party/medooze.html`);
  await page.waitForFunction(() => window.medooze !== undefined);
  return { page, exchanges };
}

/** The server's session of the stream under test. */
const sessionOf = (kind: 'whip' | 'whep') => rig.server.sessions.list().find((s) => s.kind === kind && s.stream === 'medooze');

describe('medooze whip-whep (WHIPClient, WHEPClient) in Chromium', () => {
  it('publishes and plays; trickles by PATCH; its stop() closes the connection, then DELETE answers 200', async () => {
    const publisher = await medoozePage();
    const viewer = await medoozePage();
    await publisher.page.evaluate((url) => window.medooze?.publish(url), `${rig.server.httpUrl}/whip/live/medooze`);
    await waitUntil(async () => (await rtpStats(publisher.page, 'outbound-rtp')).some((s) => s.kind === 'video' && s.framesEncoded > 0), 'the publisher encoding');
    await viewer.page.evaluate((url) => window.medooze?.view(url), `${rig.server.httpUrl}/whep/live/medooze`);

    // Media flows: the viewer decodes video, and goes on decoding it; audio arrives too.
    await waitUntil(async () => (await framesDecoded(viewer.page)) > 0, 'the viewer decoding frames', 30_000);
    const decoded = await framesDecoded(viewer.page);
    await waitUntil(async () => (await framesDecoded(viewer.page)) > decoded + 10, 'the viewer decoding more frames');
    await waitUntil(async () => ((await rtpStats(viewer.page, 'inbound-rtp')).find((s) => s.kind === 'audio')?.packets ?? 0) > 0, 'the viewer receiving audio');

    // Both clients made their session with a 201, then trickled their candidates by PATCH, which the server
    // accepted: WHIPClient's with If-Match, the ETag of the POST; WHEPClient's without (it reads no ETag from the POST).
    for (const [{ exchanges }, sendsEtag] of [[publisher, true], [viewer, false]] as const) {
      const post = exchanges.find((e) => e.method === 'POST');
      expect(post).toMatchObject({ status: 201, contentType: 'application/sdp', etag: expect.stringMatching(/^".+"$/) as string });
      const patches = exchanges.filter((e) => e.method === 'PATCH');
      expect(patches.length).toBeGreaterThan(0);
      for (const patch of patches) expect(patch).toMatchObject({ status: 204, contentType: 'application/trickle-ice-sdpfrag', ifMatch: sendsEtag ? post?.etag : undefined });
    }
    const whip = sessionOf('whip');
    const whep = sessionOf('whep');
    expect(whip).toBeDefined();
    expect(whep).toBeDefined();

    // The viewer leaves first (the publisher's leaving would end its session from the server's side).
    for (const [client, session, kind] of [[viewer, whep, 'whep'], [publisher, whip, 'whip']] as const) {
      await client.page.evaluate(() => window.medooze?.stop());
      await waitUntil(() => client.exchanges.some((e) => e.method === 'DELETE'), `the ${kind} DELETE answered`);
      const deletes = client.exchanges.filter((e) => e.method === 'DELETE');
      expect(deletes).toEqual([expect.objectContaining({ path: expect.stringMatching(new RegExp(`^/${kind}/live/medooze/[0-9a-f-]{36}$`)) as string, status: 200 })]);
      // The server ended the session on the client's DTLS close, before the DELETE arrived.
      expect(session?.peer.closeReason).toMatch(/^DTLS closed/);
      expect(client.exchanges.filter((e) => e.status === 0 || e.status >= 400)).toEqual([]);
    }
    expect(rig.server.sessions.size).toBe(0);
    await Promise.all([publisher.page.context().close(), viewer.page.context().close()]);
  });
});

// whipcast's own client library (web-demo/whip-whep.js, here driving a werift publisher) through the same calls:
// trickle with the ETag, a stale ETag refused, ICE restart, and DELETE after its connection has closed.
describe("whipcast's client library, in the same order of calls", () => {
  it('trickles, restarts ICE, closes, then DELETE answers 200', async () => {
    const publisher = await publish(`${rig.server.httpUrl}/whip/live/library`, { audio: false });
    const { session, pc } = publisher;
    await publisher.connected;
    const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1] ?? '';
    const pwd = /a=ice-pwd:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1] ?? '';
    await session.trickle(sdpFragment({ ufrag, pwd, mid: '0', candidates: ['candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host'], endOfCandidates: true }));

    const etag = session.etag;
    const stale = new WhipWhepSession({ location: session.location, answer: session.answer, etag: '"stale"' });
    await expect(stale.trickle(sdpFragment({ ufrag, pwd }))).rejects.toMatchObject({ name: 'WhipWhepError', method: 'PATCH', status: 412 });

    const fragment = await session.restartIce(sdpFragment({ ufrag: 'restartufrag', pwd: 'restartpasswordrestartpass' }));
    expect(fragment).toMatch(/a=ice-ufrag:\S+/);
    expect(fragment).toMatch(/a=candidate:.* 127\.0\.0\.1 \d+ typ host/);
    expect(session.etag).toMatch(/^".+"$/);
    expect(session.etag).not.toBe(etag);

    const id = session.location.split('/').at(-1) ?? '';
    await publisher.close();
    await waitUntil(() => rig.server.sessions.get('whip', id) === undefined, 'the server to end the session the client closed');
    await session.delete();
  });
});

describe('DELETE of a session that never existed', () => {
  it.each(['whip', 'whep'])('%s: 404 with the reason', async (kind) => {
    const location = `${rig.server.httpUrl}/${kind}/live/medooze/${randomUUID()}`;
    const never = new WhipWhepSession({ location, answer: '' });
    const refused = await never.delete().then(() => undefined, (error: unknown) => error);
    expect(refused).toMatchObject({ name: 'WhipWhepError', method: 'DELETE', url: location, status: 404 });
    expect((refused as Error).message).toMatch(new RegExp(`^DELETE ${location} → 404: .+`));
  });
});
