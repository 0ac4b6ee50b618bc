// WHIP/WHEP with a real browser: Chromium (fake camera + microphone) publishes and plays through the demo pages,
// encoding and decoding real video; a werift viewer pins simulcast layers of a Chromium publisher; Chromium plays
// a werift publisher whose payload types differ from its own (served through a delivery router).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { types as ms } from 'mediasoup';
import { WebRtcViewer } from '../../sfu/index.js';
import type { WhipcastServer } from '../../src/server.js';
import { connectionState, framesDecoded, launchChromium, openPlayer, openPublisher, pageSdp, rtpStats, type ChromiumBrowser } from '../helpers/browser.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view, type Publisher, type Viewer } from '../helpers/werift.js';

interface StreamsBody {
  streams: { app: string; stream: string; viewers: number; tracks: { kind: string; codec: string; parameters: string; simulcastLayers: number }[] }[];
}

let server: WhipcastServer;
let browser: ChromiumBrowser;
const open: (Publisher | Viewer)[] = [];
const track = <T extends Publisher | Viewer>(x: T): T => (open.push(x), x);

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchChromium();
});
afterAll(async () => {
  await Promise.all(open.map((x) => x.close()));
  await browser?.close();
  await server?.close();
});

async function streams(): Promise<StreamsBody['streams']> {
  return ((await (await fetch(`${server.httpUrl}/api/streams`)).json()) as StreamsBody).streams;
}

async function routerCount(): Promise<number> {
  return (await server.sfu.dump()).reduce((sum, w) => sum + w.routers, 0);
}

/** payload type → "codec;fmtp" of one m= section of an SDP. */
function sectionCodecs(sdp: string, kind: 'audio' | 'video'): Map<number, string> {
  const section = sdp.split(/\r?\nm=/).find((s) => s.startsWith(kind) || s.startsWith(`m=${kind}`)) ?? '';
  const codecs = new Map<number, string>();
  for (const [, pt, name] of section.matchAll(/a=rtpmap:(\d+) ([^\r\n]+)/g)) codecs.set(Number(pt), name ?? '');
  for (const [, pt, fmtp] of section.matchAll(/a=fmtp:(\d+) ([^\r\n]+)/g)) if (codecs.has(Number(pt))) codecs.set(Number(pt), `${codecs.get(Number(pt))};${fmtp}`);
  return codecs;
}

/** Width × height of the VP8 key frames among RTP packets (RFC 7741 payload descriptor, RFC 6386 frame header). */
function vp8KeyFrameSizes(packets: Viewer['packets']['video']): { width: number; height: number }[] {
  const sizes: { width: number; height: number }[] = [];
  for (const { payload } of packets) {
    const first = payload[0] ?? 0;
    if ((first & 0x10) === 0 || (first & 0x07) !== 0) continue; // not the start of partition 0
    let offset = 1;
    if (first & 0x80) {
      const x = payload[offset++] ?? 0;
      if (x & 0x80) offset += (payload[offset] ?? 0) & 0x80 ? 2 : 1; // PictureID
      if (x & 0x40) offset += 1; // TL0PICIDX
      if (x & 0x30) offset += 1; // TID / KEYIDX
    }
    const frame = payload.subarray(offset);
    if (frame.length < 10 || ((frame[0] ?? 1) & 0x01) !== 0 || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) continue;
    sizes.push({ width: frame.readUInt16LE(6) & 0x3fff, height: frame.readUInt16LE(8) & 0x3fff });
  }
  return sizes;
}

/** The viewer's video consumer of a stream, looked up among the server's WHEP sessions. */
function viewerVideoConsumer(stream: string): ms.Consumer | undefined {
  const session = server.sessions.list().find((s) => s.kind === 'whep' && s.stream === stream);
  const peer = session?.peer;
  return peer instanceof WebRtcViewer ? peer.consumers.find((c) => c.kind === 'video') : undefined;
}

describe('Chromium over WHIP and WHEP', () => {
  let publisherPage: Page;
  let playerPage: Page;

  it('browser publishes over WHIP and another browser plays over WHEP', async () => {
    publisherPage = await openPublisher(browser, server.httpUrl, { stream: 'live/chromium-h264', codec: 'H264' });

    // Chromium really encodes H264, and the server's producer is H264.
    await waitUntil(async () => (await rtpStats(publisherPage, 'outbound-rtp')).some((s) => s.kind === 'video' && s.framesEncoded > 10), 'publisher encoding');
    const sent = (await rtpStats(publisherPage, 'outbound-rtp')).find((s) => s.kind === 'video');
    expect(sent?.codec).toBe('video/H264');
    const [live] = (await streams()).filter((s) => s.stream === 'chromium-h264');
    expect(live?.tracks.map((t) => t.codec).sort()).toEqual(['audio/opus', 'video/H264']);
    expect(live?.tracks.find((t) => t.kind === 'video')?.parameters).toMatch(/packetization-mode=1/);

    const routersBefore = await routerCount();
    playerPage = await openPlayer(browser, server.httpUrl, 'live/chromium-h264');
    await waitUntil(async () => (await framesDecoded(playerPage)) > 30, 'player frames decoded > 30', 30_000);
    const received = await rtpStats(playerPage, 'inbound-rtp');
    const video = received.find((s) => s.kind === 'video');
    expect(video?.codec).toBe('video/H264');
    expect(video?.frameWidth).toBeGreaterThan(0);
    await waitUntil(async () => ((await rtpStats(playerPage, 'inbound-rtp')).find((s) => s.kind === 'audio')?.packets ?? 0) > 20, 'player audio packets');

    // The answer numbers H264 as the player's own offer does (same profile as the publisher's where offered),
    // and the packets arrive with that payload type.
    const { offer, answer } = await pageSdp(playerPage);
    const offered = sectionCodecs(offer, 'video');
    const answered = [...sectionCodecs(answer, 'video')].filter(([, c]) => c.startsWith('H264/'));
    expect(answered).toHaveLength(1);
    const [answeredPt, answeredCodec] = answered[0] as [number, string];
    expect(offered.get(answeredPt)).toMatch(/^H264\/90000;.*packetization-mode=1/);
    const producer = server.registry.list().find((s) => s.stream === 'chromium-h264')?.room.producers.find((p) => p.kind === 'video');
    const publishedParameters = (producer?.rtpParameters.codecs[0]?.parameters ?? {}) as Record<string, string | number | undefined>;
    const publishedProfile = String(publishedParameters['profile-level-id'] ?? '').slice(0, 4);
    expect(publishedProfile).toMatch(/^[0-9a-f]{4}$/i);
    expect(answeredCodec).toContain(`profile-level-id=${publishedProfile}`);
    expect(video?.payloadType).toBe(answeredPt);
    const publishedPt = producer?.rtpParameters.codecs[0]?.payloadType;
    console.log(`Chromium → Chromium: publisher H264 pt ${publishedPt}, player H264 pt ${answeredPt}, routers ${routersBefore} → ${await routerCount()}`);

    const [stream] = (await streams()).filter((s) => s.stream === 'chromium-h264');
    expect(stream?.viewers).toBe(1);
    expect(stream?.tracks.find((t) => t.kind === 'video')?.codec).toBe('video/H264');
  });

  it("publisher leaves: the viewer's session ends", async () => {
    expect(server.sessions.size).toBe(2);
    expect(await connectionState(playerPage)).toBe('connected');
    // Record what the player sees, in order: its DTLS transport (the server's close_notify) and its connection.
    await playerPage.evaluate(() => {
      const pc = window.whipcast?.session?.pc;
      const log: string[] = [];
      (window as unknown as { endLog: string[] }).endLog = log;
      const t0 = performance.now();
      const at = (): string => `+${Math.round(performance.now() - t0)}ms`;
      pc?.getReceivers()[0]?.transport?.addEventListener('statechange', (e) => log.push(`dtls ${(e.target as RTCDtlsTransport).state} ${at()}`));
      pc?.addEventListener('iceconnectionstatechange', () => log.push(`ice ${pc.iceConnectionState} ${at()}`));
      pc?.addEventListener('connectionstatechange', () => log.push(`connection ${pc.connectionState} ${at()}`));
    });
    const whip = server.sessions.list().find((x) => x.kind === 'whip' && x.stream === 'chromium-h264');
    await publisherPage.click('#stop');
    await waitUntil(() => server.sessions.size === 0, 'sessions closed');
    expect(whip?.peer.closeReason).toBe('DELETE by client');
    await waitUntil(async () => (await streams()).length === 0, '/api/streams empty');
    // The server's DTLS close alert reaches the player: its DTLS transport closes.
    await waitUntil(async () => (await playerPage.evaluate(() => window.whipcast?.session?.pc.getReceivers()[0]?.transport?.state)) === 'closed', 'player DTLS closed');
    await waitUntil(async () => (await connectionState(playerPage)) !== 'connected', 'player no longer connected');
    const state = await connectionState(playerPage);
    const log = await playerPage.evaluate(() => (window as unknown as { endLog: string[] }).endLog);
    console.log(`player RTCPeerConnection.connectionState after the publisher left: ${state} (events after Stop: ${log.join(', ')})`);
    expect(state).not.toBe('connected');
    await publisherPage.context().close();
    await playerPage.context().close();
  });
});

describe('Chromium simulcast', () => {
  it('simulcast publisher, viewer layer pinning', async () => {
    const publisherPage = await openPublisher(browser, server.httpUrl, { stream: 'live/chromium-simulcast', codec: 'VP8', simulcast: true });
    const { answer } = await pageSdp(publisherPage);
    expect(answer).toMatch(/a=simulcast:recv q;h;f/);
    for (const rid of ['q', 'h', 'f']) expect(answer).toContain(`a=rid:${rid} recv`);
    const producer = server.registry.list().find((s) => s.stream === 'chromium-simulcast')?.room.producers.find((p) => p.kind === 'video');
    if (!producer) throw new Error('no video producer');
    expect(producer.type).toBe('simulcast');
    expect(producer.rtpParameters.encodings?.map((e) => e.rid)).toEqual(['q', 'h', 'f']);
    expect(producer.rtpParameters.codecs[0]?.mimeType).toBe('video/VP8');

    // Chromium turns its layers on as its bandwidth estimate grows from 300 kbit/s (the 720p one needs about
    // 1.3 Mbit/s: usually 3 s after connecting, 20-30 s when its initial probing fails) and may drop one under CPU
    // load. The highest layer is the highest one currently flowing.
    const rids = ['q', 'h', 'f'];
    const highestLayer = async (): Promise<number> =>
      Math.max(-1, ...(await producer.getStats()).filter((s) => s.type === 'inbound-rtp' && s.bitrate > 0 && s.score > 0).map((s) => rids.indexOf(s.rid ?? '')));
    await waitUntil(async () => (await highestLayer()) >= 1, 'two simulcast layers flowing', 30_000);

    const viewer = track(await view(`${server.httpUrl}/whep/live/chromium-simulcast?spatialLayer=0`, { video: ['VP8'] }));
    await waitUntil(() => viewerVideoConsumer('chromium-simulcast') !== undefined, 'viewer consumer');
    const consumer = viewerVideoConsumer('chromium-simulcast') as ms.Consumer;
    expect(consumer.type).toBe('simulcast');
    expect(consumer.preferredLayers?.spatialLayer).toBe(0);
    await waitUntil(() => consumer.currentLayers?.spatialLayer === 0, 'viewer on spatial layer 0', 30_000);
    await waitUntil(() => vp8KeyFrameSizes(viewer.packets.video).length > 0, 'a key frame of layer 0');
    const low = vp8KeyFrameSizes(viewer.packets.video)[0] as { width: number; height: number };

    // Let Chromium turn its top layer on, if it does (otherwise the test goes on with two layers).
    const threeLayers = await waitUntil(async () => (await highestLayer()) === 2, 'three simulcast layers flowing', 60_000).then(() => true, () => false);
    // Pinned: the viewer stays on layer 0 while higher layers flow.
    expect(consumer.currentLayers?.spatialLayer).toBe(0);
    const receivedAtLow = viewer.packets.video.length;

    const response = await fetch(`${viewer.session.location}/layer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spatialLayer: 2 }) });
    expect(response.status).toBe(204);
    expect(consumer.preferredLayers?.spatialLayer).toBe(2);
    let reached = -1;
    await waitUntil(async () => {
      const current = consumer.currentLayers?.spatialLayer ?? -1;
      if (current >= 1 && current === (await highestLayer())) reached = current;
      return reached >= 1;
    }, 'viewer on the highest layer', 40_000);
    // Real media follows: key frames as large as Chromium encodes that layer reach the viewer.
    const sent = (await rtpStats(publisherPage, 'outbound-rtp')).find((s) => s.kind === 'video' && s.rid === rids[reached]);
    const width = sent?.frameWidth ?? 0;
    expect(width).toBeGreaterThanOrEqual(low.width * 2);
    await waitUntil(() => vp8KeyFrameSizes(viewer.packets.video.slice(receivedAtLow)).some((s) => s.width === width), `a key frame of layer ${reached} (${width} wide)`);
    console.log(`simulcast viewer: layer 0 key frames ${low.width}x${low.height}, then layer ${reached} key frames ${width} wide`);
    if (reached < 2) console.log(`Chromium sent only ${reached + 1} layers when the viewer switched (three layers seen before: ${threeLayers})`);

    await publisherPage.click('#stop');
    await waitUntil(() => server.registry.list().length === 0 && server.sessions.size === 0, 'simulcast stream and its viewer closed');
    await publisherPage.context().close();
  }, 180_000);
});

describe('Chromium plays a stream numbered differently', () => {
  it('a werift H264 publisher is played in Chromium through a delivery router, with Chromium\'s payload types', async () => {
    const routersBefore = await routerCount();
    const publisher = track(await publish(`${server.httpUrl}/whip/live/werift-to-chromium`, { video: 'H264' }));
    await publisher.connected;
    const playerPage = await openPlayer(browser, server.httpUrl, 'live/werift-to-chromium');
    await waitUntil(async () => (await framesDecoded(playerPage)) > 30, 'player frames decoded > 30', 30_000);
    const { offer, answer } = await pageSdp(playerPage);
    // The publisher numbers H264 (profile 42e01f) 102; Chromium numbers it otherwise and gets its own number.
    const chromiumPt = [...sectionCodecs(offer, 'video')].find(([, c]) => /^H264\/90000;.*packetization-mode=1.*profile-level-id=42e01f/.test(c))?.[0];
    expect(chromiumPt).toBeDefined();
    expect(chromiumPt).not.toBe(102);
    expect(answer).toMatch(new RegExp(`a=rtpmap:${chromiumPt} H264/90000`));
    const video = (await rtpStats(playerPage, 'inbound-rtp')).find((s) => s.kind === 'video');
    expect(video?.codec).toBe('video/H264');
    expect(video?.payloadType).toBe(chromiumPt);
    expect(video?.frameWidth).toBe(320);
    expect(await routerCount()).toBe(routersBefore + 2); // the origin and one delivery router
    const [stream] = (await streams()).filter((s) => s.stream === 'werift-to-chromium');
    expect(stream?.viewers).toBe(1);
    await playerPage.context().close();
  });
});
