// WebRTC delivery on emulated networks: a viewer (and a publisher) in network namespaces of their own, joined to the
// server by veth pairs with loss (nftables) and bandwidth caps (tbf) on them (test/helpers/netns.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebRtcViewer } from '../../sfu/index.js';
import type { WhipcastServer } from '../../src/server.js';
import { launchChromium, openPlayer, openPublisher, pageSdp, videoReceiveQuality, type ChromiumBrowser, type VideoReceiveQuality } from '../helpers/browser.js';
import { EmulatedHost, emulationNamespaces, namespaceName, namespacesOf } from '../helpers/netns.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { rtmpEncoder } from '../helpers/encoder.js';
import { publish } from '../helpers/werift.js';

const execFileAsync = promisify(execFile);

/** The API answers only loopback without a token, and this server is on a veth address. */
const ADMIN_TOKEN = 'network-test';
const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
let viewerHost: EmulatedHost;
let publisherHost: EmulatedHost;
/** Chromium in the publisher's namespace. */
let publisherNsBrowser: ChromiumBrowser;
let server: WhipcastServer;
let viewerBrowser: ChromiumBrowser;
/** In the server's namespace, on a clean link. */
let publisherBrowser: ChromiumBrowser;

beforeAll(async () => {
  [viewerHost, publisherHost] = await Promise.all([EmulatedHost.create(), EmulatedHost.create()]);
  // The server binds the namespace links' addresses (created first) and serves HTTP on one of them.
  server = await startTestServer({
    http: { host: viewerHost.gatewayAddress },
    auth: { adminToken: ADMIN_TOKEN },
    rtc: { listenIps: [{ ip: '127.0.0.1' }, { ip: viewerHost.gatewayAddress }, { ip: publisherHost.gatewayAddress }] },
    // A 3-step WebRTC ladder for RTMP sources of app "ladder": 180p and 270p below the source's 360p. A switch
    // waits for a key frame of the layer switched to, and FFmpeg cannot make one on request: short GOPs.
    transcoding: {
      templates: [
        { id: 'ld', video: { height: 180, bitrateKbps: 200, gopSeconds: 0.5 } },
        { id: 'sd', video: { height: 270, bitrateKbps: 400, gopSeconds: 0.5 } },
      ],
      // The same two as HLS variants of app "abr" (on demand, started by hls.js's requests).
      ladders: [{ app: 'ladder', templates: ['ld', 'sd'], webrtc: true }, { app: 'abr', templates: ['ld', 'sd'] }],
    },
  });
  viewerBrowser = await launchChromium({ executablePath: viewerHost.wrapperFor('/usr/bin/chromium') });
  publisherBrowser = await launchChromium({ secureOrigins: [server.httpUrl] });
  publisherNsBrowser = await launchChromium({ executablePath: publisherHost.wrapperFor('/usr/bin/chromium'), secureOrigins: [server.httpUrl] });
});
afterAll(async () => {
  await publisherNsBrowser?.close();
  await publisherBrowser?.close();
  await viewerBrowser?.close();
  await server?.close();
  await viewerHost?.close();
  await publisherHost?.close();
  // Nothing of this file's network is left behind.
  expect(await namespacesOf(process.pid)).toEqual([]);
});

function viewerOf(stream: string): WebRtcViewer {
  const peer = server.sessions.list().find((s) => s.kind === 'whep' && s.stream === stream)?.peer;
  if (!(peer instanceof WebRtcViewer)) throw new Error(`no WHEP viewer of ${stream}`);
  return peer;
}

describe('viewer link with loss', () => {
  it('at 2 % loss, NACKs are answered with RTX under Chromium\'s own payload types, and video goes on', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/loss2`, { video: 'VP8' });
    try {
      await publisher.connected;
      await viewerHost.shapeLink({ downLossPercent: 2 });
      const page = await openPlayer(viewerBrowser, server.httpUrl, 'live/loss2');
      const consumer = viewerOf('loss2').consumers.find((c) => c.kind === 'video');
      if (!consumer) throw new Error('no video consumer');
      // Smoothness is judged over 150 frames (5 s) once playback runs, not over its start.
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > 30, 'playback to start');
      const start = await videoReceiveQuality(page);
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > start.framesDecoded + 150, '150 more frames', 40_000);
      await waitUntil(async () => {
        const [stats] = await consumer.getStats();
        return (stats?.packetsRetransmitted ?? 0) > 0 && (await videoReceiveQuality(page)).retransmittedPacketsReceived > 0;
      }, 'retransmissions to reach the viewer', 30_000);
      const [stats] = await consumer.getStats();
      const end = await videoReceiveQuality(page);
      // Freezes are a matter of timing (CPU load counts too): bench:network measures them; here, video goes on.
      console.log(`viewer at 2 % loss: server ${JSON.stringify({ nacks: stats?.nackCount, retransmitted: stats?.packetsRetransmitted })}; Chromium ${JSON.stringify({ frames: end.framesDecoded - start.framesDecoded, nacks: end.nackCount, rtx: end.retransmittedPacketsReceived, freezes: end.freezeCount - start.freezeCount })}`);
      expect(stats?.nackCount).toBeGreaterThan(0);
      expect(end.nackCount).toBeGreaterThan(0);
      await page.close();
    } finally {
      await viewerHost.shapeLink({});
      await publisher.close();
    }
  });
});

describe('simulcast viewer on a capped link', () => {
  it('is moved down to a layer that fits, back up when the cap is lifted, and a pin still decides', async () => {
    const publisherPage = await openPublisher(publisherBrowser, server.httpUrl, { stream: 'live/capped', codec: 'VP8', simulcast: true });
    try {
      const producer = server.registry.list().find((s) => s.stream === 'capped')?.room.producers.find((p) => p.kind === 'video');
      if (!producer) throw new Error('no video producer');
      const rids = ['q', 'h', 'f'];
      const layerBitrates = async (): Promise<number[]> => {
        const bitrates = [0, 0, 0];
        for (const s of await producer.getStats()) if (s.type === 'inbound-rtp') bitrates[rids.indexOf(s.rid ?? '')] = s.bitrate;
        return bitrates;
      };
      const highest = async (): Promise<number> => (await layerBitrates()).findLastIndex((b) => b > 0);
      // Chromium turns its layers on as its own estimate grows; two are enough to switch between.
      await waitUntil(async () => (await highest()) >= 1, 'two simulcast layers flowing', 40_000);

      const page = await openPlayer(viewerBrowser, server.httpUrl, 'live/capped');
      const viewer = viewerOf('capped');
      const consumer = viewer.consumers.find((c) => c.kind === 'video');
      if (!consumer) throw new Error('no video consumer');
      // The top layer flowing and the viewer on it, read in one go (Chromium turns layers on and off as it likes).
      let top = 0;
      let bitrates = [0, 0, 0];
      await waitUntil(async () => {
        bitrates = await layerBitrates();
        top = bitrates.findLastIndex((b) => b > 0);
        return top >= 1 && consumer.currentLayers?.spatialLayer === top && (bitrates[top] ?? 0) > (bitrates[top - 1] ?? 0);
      }, 'the viewer on the top layer flowing', 40_000);
      // A cap below the top layer that leaves the one below it room for audio, RTX and probing.
      const capFor = (layers: number[]): number => {
        const [below, above] = [layers[top - 1] ?? 0, layers[top] ?? 0];
        return Math.round(Math.min(above * 0.8, below * 1.5 + 150_000, (below + above) / 2 + 100_000) / 1000);
      };
      let capKbps = capFor(bitrates);
      const beforeCap = await videoReceiveQuality(page);
      await viewerHost.shapeLink({ downKbps: capKbps });
      type Links = { viewerLinks: { availableBitrateBps: number | null; layers: { spatialLayer: number } | null }[] };
      const link = async (): Promise<Links['viewerLinks'][number] | undefined> => ((await (await fetch(`${server.httpUrl}/api/streams/live/capped`, admin)).json()) as Links).viewerLinks[0];
      let lastLink: Links['viewerLinks'][number] | undefined;
      let cappedAt = Date.now();
      await waitUntil(async () => {
        lastLink = await link();
        if ((lastLink?.layers?.spatialLayer ?? top) < top) return true;
        // A loaded machine makes Chromium shrink its top layer (CPU adaptation) until it fits the cap; the cap
        // follows it down, so it stays below the top layer and above the one beneath.
        const now = await layerBitrates();
        const below = now[top - 1] ?? 0;
        let next = (now[top] ?? 0) > below ? capFor(now) : capKbps;
        // On a loaded CI machine mediasoup's estimate has stayed above a cap only a little under the top layer
        // for the whole wait (1264 kbit/s over a 643 kbit/s cap); after 15 s the cap steps down, never under the
        // layer below plus room for audio, so a layer that fits is always there.
        if (Date.now() - cappedAt > 15_000) next = Math.min(next, Math.max(Math.round((below * 1.15 + 60_000) / 1000), Math.round(capKbps * 0.85)));
        if (next < capKbps * 0.9) {
          capKbps = next;
          cappedAt = Date.now();
          await viewerHost.shapeLink({ downKbps: capKbps });
        }
        return false;
      }, `a lower layer than ${top} under a cap below the top layer`, 75_000).catch(async (error: unknown) => {
        throw new Error(`${String(error)} (cap ${capKbps} kbit/s, layers now ${(await layerBitrates()).map((b) => Math.round(b / 1000)).join('/')} kbit/s, link ${JSON.stringify(lastLink)})`);
      });
      const switchedDown = await videoReceiveQuality(page);
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > switchedDown.framesDecoded + 60, 'video to go on at the lower layer', 40_000);
      expect((await link())?.availableBitrateBps).toEqual(expect.any(Number));
      const metrics = await (await fetch(`${server.httpUrl}/metrics`, admin)).text();
      // The layer moves with the estimate; what the metric must show is this one viewer on some layer.
      expect(metrics).toMatch(/^whipcast_viewers_by_layer\{spatial_layer="\d"\} 1$/m);
      expect(metrics).toMatch(/^whipcast_viewer_estimated_bitrate_bps\{stat="median"\} \d+/m);
      const capped = await videoReceiveQuality(page);
      console.log(`cap ${capKbps} kbit/s over layers ${bitrates.map((b) => Math.round(b / 1000)).join('/')} kbit/s: layer ${top} -> ${consumer.currentLayers?.spatialLayer}; freezes ${capped.freezeCount - beforeCap.freezeCount} (${(capped.totalFreezesDuration - beforeCap.totalFreezesDuration).toFixed(2)} s)`);

      await viewerHost.shapeLink({});
      await waitUntil(async () => consumer.currentLayers?.spatialLayer === (await highest()), 'the top layer again once the cap is lifted', 60_000);

      // A pin is a ceiling the estimate cannot lift.
      const session = server.sessions.list().find((s) => s.peer === viewer);
      const response = await fetch(`${server.httpUrl}/whep/live/capped/${session?.id}/layer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spatialLayer: 0 }) });
      expect(response.status).toBe(204);
      await waitUntil(() => consumer.currentLayers?.spatialLayer === 0, 'the pinned layer 0');
      await page.close();
    } finally {
      await viewerHost.shapeLink({});
      await publisherPage.close();
    }
  }, 300_000);
});

describe('WebRTC ladder of an RTMP source', () => {
  it('a Chromium viewer gets the source layer uncapped, and on a capped link moves down a rendition layer and plays on', async () => {
    const encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/ladder/cam`, { gop: 30 });
    try {
      await waitUntil(() => server.registry.get('ladder', 'cam') !== undefined, 'ladder/cam live');
      const producer = server.registry.get('ladder', 'cam')?.room.producers.find((p) => p.kind === 'video');
      if (!producer) throw new Error('no video producer');
      // One simulcast producer: the two renditions and the source, lowest first, through the layer mux.
      expect(producer.type).toBe('simulcast');
      const ssrcs = producer.rtpParameters.encodings?.map((e) => e.ssrc) ?? [];
      expect(ssrcs).toHaveLength(3);
      const layerBitrates = async (): Promise<number[]> => {
        const stats = await producer.getStats();
        return ssrcs.map((ssrc) => stats.find((s) => s.type === 'inbound-rtp' && s.ssrc === ssrc)?.bitrate ?? 0);
      };
      await waitUntil(async () => (await layerBitrates()).every((b) => b > 0), 'all three layers flowing', 30_000);

      const page = await openPlayer(viewerBrowser, server.httpUrl, 'ladder/cam');
      const consumer = viewerOf('cam').consumers.find((c) => c.kind === 'video');
      if (!consumer) throw new Error('no video consumer');
      expect(consumer.type).toBe('simulcast');
      await waitUntil(() => consumer.currentLayers?.spatialLayer === 2, 'the source layer on a clean link', 40_000);
      await waitUntil(async () => (await videoReceiveQuality(page)).frameWidth === 640, 'the source size decoded', 20_000);

      // A cap between the 270p rendition and the source, with room for audio and probing.
      const bitrates = await layerBitrates();
      const capKbps = Math.round(((bitrates[1] ?? 0) + (bitrates[2] ?? 0)) / 2 / 1000 + 100);
      await viewerHost.shapeLink({ downKbps: capKbps });
      // Frames decoded, sampled as often as waitUntil polls: the longest run without a new frame is the longest freeze.
      let longestStallMs = 0;
      let last = { frames: (await videoReceiveQuality(page)).framesDecoded, at: Date.now() };
      // And the longest time the viewer was sent no layer at all (its estimate under the lowest layer's bitrate).
      let longestLayerlessMs = 0;
      let layerSince = Date.now();
      const sampleStall = async (): Promise<VideoReceiveQuality> => {
        const quality = await videoReceiveQuality(page);
        const frames = quality.framesDecoded;
        if (frames > last.frames) last = { frames, at: Date.now() };
        longestStallMs = Math.max(longestStallMs, Date.now() - last.at);
        if (consumer.currentLayers) layerSince = Date.now();
        longestLayerlessMs = Math.max(longestLayerlessMs, Date.now() - layerSince);
        return quality;
      };
      await waitUntil(async () => {
        await sampleStall();
        return (consumer.currentLayers?.spatialLayer ?? 2) < 2;
      }, `a rendition layer under a ${capKbps} kbit/s cap (layers ${bitrates.map((b) => Math.round(b / 1000)).join('/')} kbit/s)`, 45_000);
      const switched = (await videoReceiveQuality(page)).framesDecoded;
      // The narrowest picture decoded after the switch: mediasoup's estimate may climb again over the capped link
      // and send the source layer for a while (seen on a loaded CI run), which is its call, not a fault here.
      let narrowest = Infinity;
      await waitUntil(async () => {
        const width = (await sampleStall()).frameWidth;
        if (width > 0) narrowest = Math.min(narrowest, width);
        return last.frames > switched + 90 && narrowest < 640;
      }, 'video to go on at the lower layer', 40_000);
      const quality = await videoReceiveQuality(page);
      console.log(`ladder: cap ${capKbps} kbit/s over layers ${bitrates.map((b) => Math.round(b / 1000)).join('/')} kbit/s: layer 2 -> ${consumer.currentLayers?.spatialLayer}, ${narrowest} px wide at the narrowest, ${quality.frameWidth} px now; longest stall ${longestStallMs} ms`);
      expect(narrowest).toBeLessThan(640);
      // The bitrate floor (the lowest layer's, see Room) keeps the viewer on a layer: without it mediasoup sent none
      // for 10 s and more once the cap's onset had pushed its estimate under the lowest layer.
      expect(longestLayerlessMs).toBeLessThan(1000);
      // The longest stall is logged, not asserted: 0.6–0.8 s when the cap sits between the top two layers, 1.7–2.9 s
      // when it is tighter (NACKs for the top layer's losses keep the link congested for a few seconds after the switch).
      await page.close();
    } finally {
      await viewerHost.shapeLink({});
      encoder.kill('SIGKILL');
    }
  }, 180_000);
});

describe('HLS multivariant playlist', () => {
  it('hls.js in Chromium plays the source on a clean link, and moves to a rendition on a capped one', async () => {
    const encoder = rtmpEncoder(`rtmp://127.0.0.1:${server.rtmpPort}/abr/cam`, { gop: 30 });
    const page = await viewerBrowser.newPage();
    try {
      await waitUntil(() => server.registry.get('abr', 'cam') !== undefined, 'abr/cam live');
      await page.goto(`${server.httpUrl}/play.html?${new URLSearchParams({ stream: 'abr/cam', protocol: 'hls', abr: '1', autoplay: '' }).toString()}`);
      const playing = () => page.evaluate(() => ({ variant: window.whipcast?.hlsVariant, frames: window.whipcast?.framesDecoded ?? 0, error: window.whipcast?.error }));
      await waitUntil(async () => {
        const state = await playing();
        return state.variant?.name === 'cam' && state.frames > 30;
      }, 'the source variant playing', 60_000);
      // Below sd's (400 + 96 kbit/s AAC, MPEG-TS overhead), above ld's.
      await viewerHost.shapeLink({ downKbps: 450 });
      await waitUntil(async () => (await playing()).variant?.name === 'cam_ld', 'hls.js on the ld variant under a 450 kbit/s cap', 120_000);
      const switched = (await playing()).frames;
      await waitUntil(async () => (await playing()).frames > switched + 30, 'video going on at ld', 60_000);
      const state = await playing();
      console.log(`hls.js under a 450 kbit/s cap: ${JSON.stringify(state.variant)}`);
      expect(state.error).toBeUndefined();
      expect([state.variant?.width, state.variant?.height]).toEqual([320, 180]);
    } finally {
      await page.close();
      await viewerHost.shapeLink({});
      encoder.kill('SIGKILL');
    }
  }, 240_000);
});

describe('publisher link', () => {
  const opusFmtp = (sdp: string): string => /a=fmtp:\d+ (.*useinbandfec.*)/.exec(sdp)?.[1] ?? '';

  it('at 3 % loss the server NACKs the publisher, a viewer on a clean link decodes on, and Opus FEC stays negotiated', async () => {
    await publisherHost.shapeLink({ upLossPercent: 3 });
    const publisherPage = await openPublisher(publisherNsBrowser, server.httpUrl, { stream: 'live/lossy-publisher', codec: 'H264' });
    try {
      expect(opusFmtp((await pageSdp(publisherPage)).answer)).toContain('useinbandfec=1');
      const page = await openPlayer(publisherBrowser, server.httpUrl, 'live/lossy-publisher');
      expect(opusFmtp((await pageSdp(page)).answer)).toContain('useinbandfec=1');
      const producer = server.registry.list().find((s) => s.stream === 'lossy-publisher')?.room.producers.find((p) => p.kind === 'video');
      if (!producer) throw new Error('no video producer');
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > 30, 'playback to start');
      const start = await videoReceiveQuality(page);
      // A Chromium publisher lowers its frame rate when the machine is busy (the whole suite runs in parallel): the
      // frames are waited for as long as the NACKs below, not at a rate.
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > start.framesDecoded + 150, '150 more frames on the clean viewer', 45_000);
      await waitUntil(async () => (await producer.getStats()).some((s) => s.nackCount > 0), 'the server to NACK the publisher', 45_000);
      const end = await videoReceiveQuality(page);
      const [ingress] = await producer.getStats();
      console.log(`publisher at 3 % loss: ingress ${JSON.stringify({ lost: ingress?.packetsLost, nacks: ingress?.nackCount, repaired: ingress?.packetsRepaired, plis: ingress?.pliCount })}; viewer ${JSON.stringify({ frames: end.framesDecoded - start.framesDecoded, dropped: end.framesDropped - start.framesDropped, freezes: end.freezeCount - start.freezeCount, lost: end.packetsLost })}`);
      await page.close();
    } finally {
      await publisherHost.shapeLink({});
      await publisherPage.close();
    }
  });

  it('a publisher whose link drops for 2 s comes back on the same stream, and its viewer decodes again', async () => {
    const publisherPage = await openPublisher(publisherNsBrowser, server.httpUrl, { stream: 'live/link-drop', codec: 'H264' });
    try {
      const page = await openPlayer(publisherBrowser, server.httpUrl, 'live/link-drop');
      const live = server.registry.list().find((s) => s.stream === 'link-drop');
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > 30, 'playback to start');
      await publisherHost.shapeLink({ downLossPercent: 100, upLossPercent: 100 });
      const cut = await videoReceiveQuality(page);
      // The fault itself lasts 2 s: this wait is the outage, not a guess at how long something takes.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await publisherHost.shapeLink({});
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > cut.framesDecoded + 60, 'the viewer to decode again after the outage', 30_000);
      expect(server.registry.list().find((s) => s.stream === 'link-drop')).toBe(live);
      await page.close();
    } finally {
      await publisherHost.shapeLink({});
      await publisherPage.close();
    }
  });
});

describe('viewer link lost', () => {
  it('a viewer whose link goes to 100 % loss is closed by the watchdog and its transport freed', async () => {
    const publisher = await publish(`${server.httpUrl}/whip/live/viewer-gone`, { video: 'VP8' });
    try {
      await publisher.connected;
      const page = await openPlayer(viewerBrowser, server.httpUrl, 'live/viewer-gone');
      await waitUntil(async () => (await videoReceiveQuality(page)).framesDecoded > 10, 'playback to start');
      const viewer = viewerOf('viewer-gone');
      const transportsWithViewer = (await server.sfu.dump()).reduce((sum, w) => sum + w.webRtcTransports, 0);
      await viewerHost.shapeLink({ downLossPercent: 100, upLossPercent: 100 });
      const cutAt = Date.now();
      await waitUntil(() => !server.sessions.list().some((s) => s.peer === viewer), 'the watchdog to close the viewer and end its session', 20_000);
      console.log(`viewer on a dead link closed after ${Date.now() - cutAt} ms`);
      expect(viewer.closed).toBe(true);
      expect(viewer.transport.closed).toBe(true);
      // Other tests' sessions may still be closing: the worker's count is down by at least this viewer's transport.
      expect((await server.sfu.dump()).reduce((sum, w) => sum + w.webRtcTransports, 0)).toBeLessThanOrEqual(transportsWithViewer - 1);
      await page.close();
    } finally {
      await viewerHost.shapeLink({});
      await publisher.close();
    }
  });
});

describe('emulation cleanup', () => {
  it('a namespace left by a process that is gone is removed when the next host is made', async () => {
    // A pid that cannot run: above the kernel's pid_max limit (2^22).
    const stale = namespaceName(4_194_999, 0);
    await execFileAsync('ip', ['netns', 'add', stale]);
    const host = await EmulatedHost.create();
    try {
      expect(await emulationNamespaces()).not.toContain(stale);
      expect(await emulationNamespaces()).toContain(host.name);
    } finally {
      await host.close();
    }
    expect(await emulationNamespaces()).not.toContain(host.name);
  });
});
