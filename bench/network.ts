// bench:network — WebRTC delivery on emulated networks.
//
// The real server runs in this process and binds two veth links (test/helpers/netns.ts): one to a viewer
// namespace, one to a publisher namespace. The publisher (a Chromium page or an RTMP encoder) runs in the
// publisher namespace, the viewer (Chromium, web-demo/play.html) in the viewer namespace; loss (nftables, both
// directions) and caps (tbf, towards the viewer) are set on those links. A grid over:
//   - sources: whip-simulcast (publish.html, calibrator at 1280×720, VP8 ×3 layers), whip (the same, H264, one
//     layer), rtmp (the time-code generator through x264 + AAC pushed over RTMP; bench:latency's source);
//   - publisher links: clean, 3 % loss;
//   - viewer links: clean, 1 / 3 / 5 % loss, 1.5 / 0.8 Mbit/s caps.
// Per cell a fresh viewer joins on the shaped link, plays a warm-up, then a window in which it measures:
//   glass-to-glass p50/p95 (play.html's own time-code reader), fps shown, freezes and their total time
//   (Chromium's getStats), the simulcast layer it was sent (sampled every second), the server's estimate of its
//   link, NACKs it sent and the RTX packets it got, and the NACKs the server sent the publisher.
// The ladder sources (rtmp-ladder, whip-ladder: the rtmp and whip sources under a WebRTC ladder of 180p and 360p
// renditions below the source) also get a cap change (--switch-kbps, 0 skips it): a viewer plays on a clean link
// until it is sent the top layer, the cap is set, and the layer it is sent is sampled every 200 ms: the time to its
// first lower layer, then, the cap lifted, the time back to the top (waited for over three windows), and the freezes
// over each phase. For rtmp-ladder, hls.js (play.html, the stream's multivariant playlist) gets the same cap: the time
// to a lower variant and back, and the longest run without a new decoded frame in each phase.
// A table, JSON (bench-results/network-*.json).
//
//   node dist/bench/network.js [--window 10 --warmup 6 --sources whip-simulcast,whip,rtmp
//                               --viewer-links clean,loss1,loss3,loss5,cap1500,cap800 --publisher-links clean,loss3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebRtcViewer, type Room } from '../sfu/index.js';
import { resolveConfig } from '../src/config/config.js';
import { startServer, type WhipcastServer } from '../src/server.js';
import { videoReceiveQuality, type VideoReceiveQuality } from '../test/helpers/browser.js';
import { EmulatedHost, type LinkShape } from '../test/helpers/netns.js';
import { markReader, readerState } from './lib/browser-latency.js';
import { launchChromium, type BenchBrowser } from './lib/browser.js';
import { intFlag, parseFlags, runBench } from './lib/cli.js';
import { BenchProcesses } from './lib/latency.js';
import { stopSession, waitForFirstFrame, waitForLive } from './lib/pages.js';
import { machineInfo } from './lib/proc.js';
import { printTable, round, summarize, writeResults, type Cell } from './lib/report.js';
import { spawnEncoder, type EncoderSettings } from './lib/rtmp-generator.js';
import { closeServer, freePortRange, sleep, waitFor } from './lib/server.js';

const SOURCES = ['whip-simulcast', 'whip', 'rtmp', 'rtmp-ladder', 'whip-ladder'] as const;
const LADDER_SOURCES: readonly SourceName[] = ['rtmp-ladder', 'whip-ladder'];
type SourceName = (typeof SOURCES)[number];
/** Loss is set in both directions (media one way, feedback the other), as on a real lossy link. */
const VIEWER_LINKS: Record<string, LinkShape> = {
  clean: {},
  loss1: { downLossPercent: 1, upLossPercent: 1 },
  loss3: { downLossPercent: 3, upLossPercent: 3 },
  loss5: { downLossPercent: 5, upLossPercent: 5 },
  cap1500: { downKbps: 1500 },
  cap800: { downKbps: 800 },
};
const PUBLISHER_LINKS: Record<string, LinkShape> = { clean: {}, loss3: { downLossPercent: 3, upLossPercent: 3 } };

const flags = parseFlags(
  {
    window: { type: 'string', default: '10', help: 'seconds measured per cell' },
    warmup: { type: 'string', default: '6', help: 'seconds a viewer plays before its window' },
    sources: { type: 'string', default: SOURCES.join(','), help: `sources (${SOURCES.join(', ')})` },
    'viewer-links': { type: 'string', default: Object.keys(VIEWER_LINKS).join(','), help: `viewer links (${Object.keys(VIEWER_LINKS).join(', ')})` },
    'publisher-links': { type: 'string', default: Object.keys(PUBLISHER_LINKS).join(','), help: `publisher links (${Object.keys(PUBLISHER_LINKS).join(', ')})` },
    'rtmp-kbps': { type: 'string', default: '2500', help: 'rtmp: x264 bitrate' },
    'switch-kbps': { type: 'string', default: 'auto', help: "ladder sources: the cap of the switch measurement (auto: between the 360p layer's 800 kbit/s and the source's bitrate; 0: none)" },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/network.js [options]',
);
const windowSeconds = intFlag('window', flags.window, 2);
const switchKbps = flags['switch-kbps'] === 'auto' ? 'auto' : intFlag('switch-kbps', flags['switch-kbps'], 0);
/** The ladder's 360p template's bitrate (the server's config below). */
const MIDDLE_LAYER_KBPS = 800;
const warmupSeconds = intFlag('warmup', flags.warmup, 0);
const pick = <T extends string>(flag: string, raw: string, known: readonly T[]): T[] => {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !known.includes(n as T));
  if (unknown.length > 0 || names.length === 0) {
    console.error(`--${flag}: unknown or empty (${unknown.join(', ')}); known: ${known.join(', ')}`);
    process.exit(2);
  }
  return names as T[];
};
const sources = pick('sources', flags.sources, SOURCES);
const viewerLinks = pick('viewer-links', flags['viewer-links'], Object.keys(VIEWER_LINKS));
const publisherLinks = pick('publisher-links', flags['publisher-links'], Object.keys(PUBLISHER_LINKS));
const rtmpSettings: EncoderSettings = { bframes: 0, audio: true, kbps: intFlag('rtmp-kbps', flags['rtmp-kbps'], 100), gop: 30, preset: 'veryfast', tune: 'zerolatency' };

interface CellResult {
  source: SourceName;
  publisherLink: string;
  viewerLink: string;
  ttffMs?: number;
  samples?: number;
  unreadable?: number;
  p50?: number;
  p95?: number;
  /** Frames the page showed with a readable time code, and frames Chromium decoded, per second. */
  fps?: number;
  decodedFps?: number;
  freezes?: number;
  freezeSeconds?: number;
  framesDropped?: number;
  /** Simulcast layer sent to the viewer, sampled every second of the window: layer → samples. */
  layers?: Record<string, number>;
  /** The server's estimate of the viewer's link over the window (kbit/s). */
  estimateKbps?: { min?: number; p50?: number; max?: number };
  viewerNacks?: number;
  viewerRtxReceived?: number;
  viewerPacketsLost?: number;
  serverRetransmitted?: number;
  publisherNacks?: number;
  publisherLost?: number;
  error?: string;
}

/** A cap set and lifted under a viewer of a WebRTC ladder. */
interface SwitchResult {
  source: SourceName;
  player: 'WebRTC' | 'hls.js';
  capKbps: number;
  /** From the cap to the first sample on a lower layer, and the layer (hls.js: the variant) then (none within the window: undefined). */
  downMs?: number;
  downTo?: number | string;
  /** From lifting it to the first sample on the top layer again. */
  upMs?: number;
  cappedFreezes?: number;
  cappedFreezeSeconds?: number;
  liftedFreezes?: number;
  liftedFreezeSeconds?: number;
  /** hls.js: the longest run without a new decoded frame while capped, and after the lift. */
  longestStallCappedMs?: number;
  longestStallLiftedMs?: number;
  error?: string;
}

let server: WhipcastServer | undefined;
let hosts: EmulatedHost[] = [];
let browsers: BenchBrowser[] = [];
let procs: BenchProcesses | undefined;
let tmp: string | undefined;

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(`network: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}, kernel ${machine.kernel}`);
  console.log(`sources ${sources.join(',')} × publisher links ${publisherLinks.join(',')} × viewer links ${viewerLinks.join(',')}; ${warmupSeconds}s warm-up + ${windowSeconds}s window per cell`);
  const [viewerHost, publisherHost] = (hosts = await Promise.all([EmulatedHost.create(), EmulatedHost.create()])) as [EmulatedHost, EmulatedHost];
  // HTTP on the viewer link's address (the publisher namespace reaches it through its own link), RTMP on the
  // publisher link's, media on both.
  server = await startServer(
    resolveConfig({
      http: { host: viewerHost.gatewayAddress, port: 0 },
      rtmp: { host: publisherHost.gatewayAddress, port: 0 },
      rtc: { port: await freePortRange(1), workers: 1, listenIps: [{ ip: viewerHost.gatewayAddress }, { ip: publisherHost.gatewayAddress }] },
      log: { level: flags['log-level'] },
      // The ladder sources' app: 180p and 360p below the source, short GOPs (a switch waits for a key frame).
      transcoding: {
        templates: [
          { id: 'ld', video: { height: 180, bitrateKbps: 300, gopSeconds: 0.5 } },
          { id: 'sd', video: { height: 360, bitrateKbps: 800, gopSeconds: 0.5 } },
        ],
        ladders: [{ app: 'ladder', templates: ['ld', 'sd'], webrtc: true }],
      },
    }),
  );
  const srv = server;
  const viewerBrowser = await launchChromium({ executablePath: viewerHost.wrapperFor('/usr/bin/chromium') });
  const publisherBrowser = await launchChromium({ executablePath: publisherHost.wrapperFor('/usr/bin/chromium') });
  browsers = [viewerBrowser, publisherBrowser];
  tmp = mkdtempSync(join(tmpdir(), 'whipcast-bench-network-'));
  procs = new BenchProcesses(tmp);
  const encoderProgram = publisherHost.wrapperFor('ffmpeg');
  console.log(`chromium ${viewerBrowser.version}; server ${srv.httpUrl}, viewer ${viewerHost.address}, publisher ${publisherHost.address}`);

  const cells: CellResult[] = [];
  const switches: SwitchResult[] = [];
  for (const source of sources) {
    const ladder = LADDER_SOURCES.includes(source);
    for (const publisherLink of publisherLinks) {
      await publisherHost.shapeLink(PUBLISHER_LINKS[publisherLink] ?? {});
      const stream = `${ladder ? 'ladder' : 'bench'}/net-${source}-${publisherLink}`;
      const stop = await startSource(source, stream, srv, publisherBrowser, encoderProgram);
      try {
        const room = await waitForLive(srv, stream, undefined, 45_000);
        if (source === 'whip-simulcast') await waitForLayers(room, 3);
        if (ladder) await waitFor(() => room.tracks().find((t) => t.kind === 'video')?.simulcastLayers === 3, 'the WebRTC ladder', 30_000);
        if (ladder && switchKbps !== 0 && publisherLink === 'clean') {
          const capKbps = switchKbps === 'auto' ? Math.round((MIDDLE_LAYER_KBPS + (await sourceKbps(room))) / 2) : switchKbps;
          const result = await measureSwitch(viewerBrowser, viewerHost, srv, room, stream, capKbps).catch((error: unknown) => ({ error: (error as Error).message.split('\n')[0] ?? 'error' }));
          await viewerHost.shapeLink({});
          const cell: SwitchResult = { source, player: 'WebRTC', capKbps, ...result };
          switches.push(cell);
          console.log(`${source} cap ${capKbps} kbit/s: ${cell.error ?? `down in ${cell.downMs ?? '-'} ms to layer ${cell.downTo ?? '-'}, up in ${cell.upMs ?? '-'} ms; freezes ${cell.cappedFreezes} (${cell.cappedFreezeSeconds} s) capped, ${cell.liftedFreezes} (${cell.liftedFreezeSeconds} s) lifted`}`);
          if (source === 'rtmp-ladder') {
            const hls = await measureHlsSwitch(viewerBrowser, viewerHost, srv, stream, capKbps).catch((error: unknown) => ({ error: (error as Error).message.split('\n')[0] ?? 'error' }));
            await viewerHost.shapeLink({});
            const hlsCell: SwitchResult = { source, player: 'hls.js', capKbps, ...hls };
            switches.push(hlsCell);
            console.log(`${source} (hls.js) cap ${capKbps} kbit/s: ${hlsCell.error ?? `down in ${hlsCell.downMs ?? '-'} ms to ${hlsCell.downTo ?? '-'}, up in ${hlsCell.upMs ?? '-'} ms; longest stall ${hlsCell.longestStallCappedMs} ms capped, ${hlsCell.longestStallLiftedMs} ms lifted`}`);
          }
        }
        for (const viewerLink of viewerLinks) {
          await viewerHost.shapeLink(VIEWER_LINKS[viewerLink] ?? {});
          const base = { source, publisherLink, viewerLink };
          const cell: CellResult = await measureCell(viewerBrowser, srv, room, stream).then((r) => ({ ...base, ...r }), (error: unknown) => ({ ...base, error: (error as Error).message.split('\n')[0] ?? 'error' }));
          await viewerHost.shapeLink({});
          cells.push(cell);
          console.log(`${source} / publisher ${publisherLink} / viewer ${viewerLink}: ${cell.error ?? `p50 ${cell.p50} p95 ${cell.p95} ms, ${cell.fps} fps shown (${cell.decodedFps} decoded), ${cell.freezes} freezes (${cell.freezeSeconds} s), layers ${layerText(cell.layers)}, estimate ${cell.estimateKbps?.p50 ?? '-'} kbit/s`}`);
        }
      } finally {
        await stop();
        await publisherHost.shapeLink({});
      }
    }
  }

  console.log('\n=== WebRTC delivery on emulated links (viewer in its own namespace; g2g = glass-to-glass, ms) ===');
  const rows: Cell[][] = cells.map((c) => [
    c.source, c.publisherLink, c.viewerLink, c.ttffMs, c.p50, c.p95, c.fps, c.decodedFps, c.freezes, c.freezeSeconds, c.framesDropped, layerText(c.layers), c.estimateKbps?.p50,
    c.viewerNacks, c.viewerRtxReceived, c.serverRetransmitted, c.publisherNacks, c.error,
  ]);
  printTable(['source', 'publisher', 'viewer', 'first frame', 'g2g p50', 'g2g p95', 'fps shown', 'fps decoded', 'freezes', 'freeze s', 'dropped', 'layer', 'estimate kbps', 'NACKs', 'RTX rcvd', 'RTX sent', 'pub NACKs', 'error'], rows);
  if (switches.length > 0) {
    console.log('\n=== WebRTC ladder: a cap set, then lifted (layer sampled every 200 ms) ===');
    printTable(
      ['source', 'player', 'cap kbps', 'down ms', 'to layer', 'freezes capped', 'freeze s capped', 'longest stall capped ms', 'up ms', 'freezes lifted', 'freeze s lifted', 'longest stall lifted ms', 'error'],
      switches.map((c) => [c.source, c.player, c.capKbps, c.downMs, c.downTo, c.cappedFreezes, c.cappedFreezeSeconds, c.longestStallCappedMs, c.upMs, c.liftedFreezes, c.liftedFreezeSeconds, c.longestStallLiftedMs, c.error]),
    );
  }
  const { file, latest } = await writeResults('network', {
    name: 'network',
    startedAt: new Date().toISOString(),
    machine,
    config: { windowSeconds, warmupSeconds, sources, viewerLinks: Object.fromEntries(viewerLinks.map((l) => [l, VIEWER_LINKS[l]])), publisherLinks: Object.fromEntries(publisherLinks.map((l) => [l, PUBLISHER_LINKS[l]])), rtmp: rtmpSettings, chromium: viewerBrowser.version },
    cells,
    switches,
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

const layerText = (layers: Record<string, number> | undefined): string =>
  layers && Object.keys(layers).length > 0 ? Object.entries(layers).sort(([a], [b]) => Number(b) - Number(a)).map(([l, n]) => `${l}×${n}`).join(' ') : '-';

/** Starts a source of `stream` in the publisher namespace; resolves to its stop(). */
async function startSource(source: SourceName, stream: string, srv: WhipcastServer, publisherBrowser: BenchBrowser, encoderProgram: string): Promise<() => Promise<void>> {
  if (source === 'rtmp' || source === 'rtmp-ladder') {
    if (!procs) throw new Error('no process registry');
    const p = procs;
    const generator = p.source();
    const encoder = p.track(spawnEncoder(generator.fifo, rtmpSettings, `rtmp://${hosts[1]?.gatewayAddress}:${srv.rtmpPort}/${stream}`, encoderProgram));
    return async () => {
      await p.stopSource(generator);
      await p.kill(encoder);
    };
  }
  const publisher = await publisherBrowser.newPage();
  const query = { source: 'calibrator', codec: source === 'whip-simulcast' ? 'VP8' : 'H264', autostart: '1', stream, ...(source === 'whip-simulcast' ? { simulcast: '1' } : {}) };
  await publisher.page.goto(`${srv.httpUrl}/publish.html?${new URLSearchParams(query).toString()}`);
  return async () => {
    await stopSession(publisher.page);
    await publisher.close();
  };
}

/** A viewer of a WebRTC ladder: on the top layer on a clean link, then capped, then lifted (see the header). */
async function measureSwitch(b: BenchBrowser, viewerHost: EmulatedHost, srv: WhipcastServer, room: Room, stream: string, capKbps: number): Promise<Omit<SwitchResult, 'source' | 'player' | 'capKbps'>> {
  const player = await b.newPage();
  try {
    await player.page.goto(`${srv.httpUrl}/play.html?${new URLSearchParams({ stream, autoplay: '1', report: '0' }).toString()}`);
    await waitForFirstFrame(player.page, 30_000);
    const viewer = await waitForViewer(srv, stream);
    const layer = async () => (await room.viewerLinks()).find((l) => l.id === viewer.id)?.layers?.spatialLayer;
    await waitFor(async () => (await layer()) === 2, 'the top layer on a clean link', 30_000);
    await sleep(warmupSeconds * 1000);
    const until = async (done: (l: number | undefined) => boolean, windowMs: number) => {
      const { ms, value } = await sampleUntil(layer, done, windowMs);
      return { ...(ms !== undefined ? { ms } : {}), ...(value !== undefined ? { layer: value } : {}) };
    };
    const beforeCap = await videoReceiveQuality(player.page);
    await viewerHost.shapeLink({ downKbps: capKbps });
    const down = await until((l) => l !== undefined && l < 2, windowSeconds * 1000);
    await sleep(Math.max(0, windowSeconds * 1000 - (down.ms ?? windowSeconds * 1000)));
    const capped = await videoReceiveQuality(player.page);
    await viewerHost.shapeLink({});
    // An estimate climbs back more slowly than it falls: three windows.
    const up = await until((l) => l === 2, 3 * windowSeconds * 1000);
    await sleep(2000); // freezes at the switch up are counted once it is done
    const lifted = await videoReceiveQuality(player.page);
    await stopSession(player.page);
    return {
      ...(down.ms !== undefined ? { downMs: down.ms } : {}),
      ...(down.layer !== undefined ? { downTo: down.layer } : {}),
      ...(up.ms !== undefined ? { upMs: up.ms } : {}),
      cappedFreezes: capped.freezeCount - beforeCap.freezeCount,
      cappedFreezeSeconds: round(capped.totalFreezesDuration - beforeCap.totalFreezesDuration, 2),
      liftedFreezes: lifted.freezeCount - capped.freezeCount,
      liftedFreezeSeconds: round(lifted.totalFreezesDuration - capped.totalFreezesDuration, 2),
    };
  } finally {
    await player.close();
  }
}

/** Samples until `done` says so or `windowMs` ends, every 200 ms: the ms to that sample, and its value. */
async function sampleUntil<T>(sample: () => Promise<T>, done: (value: T) => boolean, windowMs: number): Promise<{ ms?: number; value?: T }> {
  const started = Date.now();
  while (Date.now() - started < windowMs) {
    const value = await sample();
    if (done(value)) return { ms: Date.now() - started, value };
    await sleep(200);
  }
  return {};
}

/**
 * The same cap under hls.js playing the stream's multivariant playlist (play.html, protocol=hls, abr=1): the time to
 * a lower variant and back, and the longest run without a new decoded frame in each phase (hls.js has no freeze
 * counter; the samples are 200 ms apart).
 */
async function measureHlsSwitch(b: BenchBrowser, viewerHost: EmulatedHost, srv: WhipcastServer, stream: string, capKbps: number): Promise<Omit<SwitchResult, 'source' | 'player' | 'capKbps'>> {
  const player = await b.newPage();
  const source = stream.split('/')[1] ?? '';
  try {
    await player.page.goto(`${srv.httpUrl}/play.html?${new URLSearchParams({ stream, protocol: 'hls', abr: '1', autoplay: '1', report: '0' }).toString()}`);
    const state = () => player.page.evaluate(() => ({ variant: window.whipcast?.hlsVariant?.name, frames: window.whipcast?.framesDecoded ?? 0 }));
    await waitFor(async () => (await state()).variant === source && (await state()).frames > 30, 'hls.js on the source variant', 60_000);
    await sleep(warmupSeconds * 1000);
    let stall = { longestMs: 0, frames: 0, since: Date.now() };
    const tracked = async () => {
      const now = await state();
      if (now.frames > stall.frames) stall = { ...stall, frames: now.frames, since: Date.now() };
      else stall.longestMs = Math.max(stall.longestMs, Date.now() - stall.since);
      return now.variant;
    };
    await viewerHost.shapeLink({ downKbps: capKbps });
    const down = await sampleUntil(tracked, (v) => v !== undefined && v !== source, 3 * windowSeconds * 1000);
    const cappedStallMs = stall.longestMs;
    stall.longestMs = 0;
    await viewerHost.shapeLink({});
    const up = await sampleUntil(tracked, (v) => v === source, 3 * windowSeconds * 1000);
    return {
      ...(down.ms !== undefined ? { downMs: down.ms } : {}),
      ...(down.value !== undefined ? { downTo: down.value } : {}),
      ...(up.ms !== undefined ? { upMs: up.ms } : {}),
      longestStallCappedMs: cappedStallMs,
      longestStallLiftedMs: stall.longestMs,
    };
  } finally {
    await player.close();
  }
}

/** The publisher's video bitrate (kbit/s), over mediasoup's full 2.5 s window: the ladder's top layer. */
async function sourceKbps(room: Room): Promise<number> {
  const producer = room.producers.find((p) => p.kind === 'video');
  await sleep(3000);
  const rates = ((await producer?.getStats()) ?? []).map((s) => s.bitrate);
  return Math.round(Math.max(0, ...rates) / 1000);
}

/** Chromium turns its simulcast layers on as its estimate of the publisher link grows. */
async function waitForLayers(room: Room, layers: number): Promise<void> {
  const producer = room.producers.find((p) => p.kind === 'video');
  if (!producer) throw new Error('no video producer');
  await waitFor(async () => (await producer.getStats()).filter((s) => s.bitrate > 0).length >= layers, `${layers} simulcast layers`, 45_000).catch((error: unknown) => console.warn(`  (${(error as Error).message}; measuring with fewer)`));
}

/** One viewer on the link as it is shaped now: joins, warms up, measures a window, leaves. */
async function measureCell(b: BenchBrowser, srv: WhipcastServer, room: Room, stream: string): Promise<Omit<CellResult, 'source' | 'publisherLink' | 'viewerLink'>> {
  const player = await b.newPage();
  try {
    await player.page.goto(`${srv.httpUrl}/play.html?${new URLSearchParams({ stream, autoplay: '1', report: '0', samples: 'all' }).toString()}`);
    const ttffMs = await waitForFirstFrame(player.page, 30_000);
    const viewer = await waitForViewer(srv, stream);
    await sleep(warmupSeconds * 1000);
    const videoProducer = room.producers.find((p) => p.kind === 'video');
    const consumer = viewer.consumers.find((c) => c.kind === 'video');
    await markReader(player.page);
    const [quality, retransmitted, publisherCounters] = [await videoReceiveQuality(player.page), await serverRetransmitted(consumer), await publisherIngress(videoProducer)];
    const started = Date.now();
    const layers: Record<string, number> = {};
    const estimates: number[] = [];
    while (Date.now() - started < windowSeconds * 1000) {
      await sleep(1000);
      const link = (await room.viewerLinks()).find((l) => l.id === viewer.id);
      if (link?.layers) layers[String(link.layers.spatialLayer)] = (layers[String(link.layers.spatialLayer)] ?? 0) + 1;
      if (link?.availableBitrateBps) estimates.push(link.availableBitrateBps / 1000);
    }
    const windowMs = Date.now() - started;
    const state = await readerState(player.page);
    const end = await videoReceiveQuality(player.page);
    const [retransmittedEnd, publisherEnd] = [await serverRetransmitted(consumer), await publisherIngress(videoProducer)];
    await stopSession(player.page);
    const g2g = summarize(state.samples, 1);
    const estimate = summarize(estimates, 0);
    return {
      ttffMs: round(ttffMs, 0),
      samples: state.samples.length,
      unreadable: state.unreadable,
      ...(g2g.p50 !== undefined ? { p50: g2g.p50 } : {}),
      ...(g2g.p95 !== undefined ? { p95: g2g.p95 } : {}),
      fps: round(state.shown / (windowMs / 1000), 1),
      ...qualityDelta(quality, end, windowMs),
      layers,
      ...(estimates.length > 0 ? { estimateKbps: { min: estimate.min, p50: estimate.p50, max: estimate.max } } : {}),
      serverRetransmitted: retransmittedEnd - retransmitted,
      publisherNacks: publisherEnd.nacks - publisherCounters.nacks,
      publisherLost: publisherEnd.lost - publisherCounters.lost,
    };
  } finally {
    await player.close();
  }
}

function qualityDelta(a: VideoReceiveQuality, b: VideoReceiveQuality, windowMs: number): Pick<CellResult, 'decodedFps' | 'freezes' | 'freezeSeconds' | 'framesDropped' | 'viewerNacks' | 'viewerRtxReceived' | 'viewerPacketsLost'> {
  return {
    decodedFps: round((b.framesDecoded - a.framesDecoded) / (windowMs / 1000), 1),
    freezes: b.freezeCount - a.freezeCount,
    freezeSeconds: round(b.totalFreezesDuration - a.totalFreezesDuration, 2),
    framesDropped: b.framesDropped - a.framesDropped,
    viewerNacks: b.nackCount - a.nackCount,
    viewerRtxReceived: b.retransmittedPacketsReceived - a.retransmittedPacketsReceived,
    viewerPacketsLost: b.packetsLost - a.packetsLost,
  };
}

async function waitForViewer(srv: WhipcastServer, stream: string): Promise<WebRtcViewer> {
  let viewer: WebRtcViewer | undefined;
  await waitFor(() => {
    const peer = srv.sessions.list().find((s) => s.kind === 'whep' && `${s.app}/${s.stream}` === stream)?.peer;
    viewer = peer instanceof WebRtcViewer ? peer : undefined;
    return viewer !== undefined;
  }, `a WHEP viewer of ${stream}`, 10_000);
  if (!viewer) throw new Error(`no WHEP viewer of ${stream}`);
  return viewer;
}

type StatsSource = { getStats(): Promise<{ type: string; packetsRetransmitted?: number; nackCount?: number; packetsLost?: number }[]> } | undefined;

/** RTX the server sent the viewer (a simulcast consumer's stats also list the producer layer it forwards). */
async function serverRetransmitted(consumer: StatsSource): Promise<number> {
  return ((await consumer?.getStats()) ?? []).filter((s) => s.type === 'outbound-rtp').reduce((sum, s) => sum + (s.packetsRetransmitted ?? 0), 0);
}

/** NACKs the server sent the publisher and packets it lost (summed over simulcast layers). */
async function publisherIngress(producer: StatsSource): Promise<{ nacks: number; lost: number }> {
  const stats = (await producer?.getStats()) ?? [];
  return { nacks: stats.reduce((sum, s) => sum + (s.nackCount ?? 0), 0), lost: stats.reduce((sum, s) => sum + (s.packetsLost ?? 0), 0) };
}

async function cleanup(): Promise<void> {
  await procs?.closeAll().catch(() => undefined);
  for (const b of browsers) await b.close().catch(() => undefined);
  if (server) await closeServer(server).catch(() => undefined);
  for (const h of hosts) await h.close().catch(() => undefined);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));

runBench('network', main, cleanup);
