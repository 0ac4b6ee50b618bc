// In-page helpers for bench:latency (plain JavaScript evaluated in Chromium pages served by the whipcast server,
// so that the web-demo modules import from the same origin): the pages' own latency measurement read over a window,
// the no-server floor, receiver frame counts, negotiated codecs; and CPU of the Chromium processes from /proc.
import type { Page } from 'playwright-core';
import { PUBLISHER_START_KBPS } from '../../sfu/index.js';
import { childProcesses, processCpuMs } from './proc.js';

/** What the page's own measurement (web-demo/latency.js, keepAll) collected over a window: one latency sample (ms)
 *  per displayed frame whose time code read back. */
export interface ReaderState {
  samples: number[];
  shown: number;
  unreadable: number;
}

/** The page's measurement: play.html's (window.whipcast.latency with ?samples=all), or the floor receiver's. */
const LATENCY = 'window.whipcast?.latency';

/** Starts a window: remembers how far the page's measurement has got (and which one: a reconnect starts another). */
export async function markReader(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    const latency = ${LATENCY};
    if (!latency || !latency.all) throw new Error('the page keeps no latency samples (play.html needs ?samples=all)');
    window.__benchMark = { latency, n: latency.all.length, shown: latency.framesShown, read: latency.framesRead };
  })()`);
}

/** What the page measured since markReader(). */
export async function readerState(page: Page): Promise<ReaderState> {
  return page.evaluate<ReaderState>(`(() => {
    const m = window.__benchMark;
    const l = m.latency;
    const shown = l.framesShown - m.shown;
    return { samples: l.all.slice(m.n), shown, unreadable: shown - (l.framesRead - m.read) };
  })()`);
}

/**
 * The floor: the calibrator sent from one page's RTCPeerConnection to another page's, no server in between, with
 * the same page structure as the measured path. The sender page does what publish.html does with the calibrator
 * source (calibrator.js canvas, captureStream(30), a local preview, the codec preferred as whip-whep.js publish()
 * does); the receiver plays into a <video> and measures with web-demo/latency.js, as play.html does. Offer and
 * answer (all candidates included) go through this process. Resolves when the receiver is connected.
 */
export async function startFloor(sender: Page, receiver: Page, codec: string): Promise<void> {
  const offer = await sender.evaluate<string>(`(async () => {
    const codec = ${JSON.stringify(codec)};
    const { startCalibrator } = await import('/calibrator.js');
    document.body.replaceChildren();
    const canvas = document.createElement('canvas');
    const calibrator = startCalibrator(canvas);
    const stream = canvas.captureStream(30);
    const preview = document.createElement('video');
    preview.autoplay = true; preview.muted = true; preview.playsInline = true;
    preview.srcObject = stream;
    document.body.append(preview);
    const pc = new RTCPeerConnection();
    const [track] = stream.getVideoTracks();
    const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const codecs = RTCRtpSender.getCapabilities('video').codecs;
    const wanted = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/' + codec.toLowerCase() && (codec !== 'H264' || /packetization-mode=1/.test(c.sdpFmtpLine ?? '')));
    transceiver.setCodecPreferences([...wanted, ...codecs.filter((c) => !wanted.includes(c))]);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => (pc.iceGatheringState === 'complete' ? resolve() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve())));
    window.__floor = { pc, calibrator };
    return pc.localDescription.sdp;
  })()`);
  const answer = await receiver.evaluate<string>(`(async () => {
    const { measureLatency } = await import('/latency.js');
    document.body.replaceChildren();
    const video = document.createElement('video');
    video.autoplay = true; video.muted = true; video.playsInline = true;
    document.body.append(video);
    const pc = new RTCPeerConnection();
    pc.ontrack = (e) => {
      video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      window.whipcast.latency = measureLatency(video, { keepAll: true }).latency;
    };
    window.whipcast = { session: { pc } };
    await pc.setRemoteDescription({ type: 'offer', sdp: ${JSON.stringify('__OFFER__')} });
    // The same start bitrate hint as the server gives WHIP publishers (PUBLISHER_START_KBPS), so that both senders
    // start their bandwidth estimate at the same rate.
    const answer = await pc.createAnswer();
    answer.sdp = answer.sdp.replace(/^(a=fmtp:\\d+ .*)$/gm, (line) => (/apt=/.test(line) ? line : line + ';x-google-start-bitrate=${PUBLISHER_START_KBPS}'));
    await pc.setLocalDescription(answer);
    await new Promise((resolve) => (pc.iceGatheringState === 'complete' ? resolve() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve())));
    return pc.localDescription.sdp;
  })()`.replace(JSON.stringify('__OFFER__'), JSON.stringify(offer)));
  await sender.evaluate(`window.__floor.pc.setRemoteDescription({ type: 'answer', sdp: ${JSON.stringify(answer)} })`);
  await receiver.waitForFunction(() => {
    const w = window as unknown as { whipcast?: { session?: { pc?: RTCPeerConnection }; latency?: { synced?: boolean } } };
    const state = w.whipcast?.session?.pc?.connectionState;
    if (state === 'failed' || state === 'closed') throw new Error(`floor: the peer connections did not connect (${state})`);
    return state === 'connected' && w.whipcast?.latency?.synced === true;
  }, undefined, { timeout: 15_000, polling: 50 });
}

/** Negotiated video codec of the sender (publisher) or receiver, from the page's RTCPeerConnection stats. */
export async function pageCodec(page: Page, pcExpression: string): Promise<string | undefined> {
  return page.evaluate<string | undefined>(`(async () => {
    const pc = ${pcExpression};
    if (!pc) return undefined;
    const stats = await pc.getStats();
    const rtp = [...stats.values()].find((s) => (s.type === 'outbound-rtp' || s.type === 'inbound-rtp') && s.kind === 'video');
    const codec = rtp && stats.get(rtp.codecId);
    return codec ? codec.mimeType + (codec.sdpFmtpLine ? ' ' + codec.sdpFmtpLine : '') : undefined;
  })()`);
}

/** Counters of a page's RTCPeerConnection's video inbound-rtp so far (what the receiver did with the frames). */
export interface ReceiverCounters {
  framesReceived: number;
  framesDecoded: number;
  framesDropped: number;
  bytesReceived: number;
  /** Seconds, summed over emitted frames (jitterBufferEmittedCount). */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  /** Seconds, summed over decoded frames. */
  totalDecodeTime: number;
  /** Seconds from the first packet of a frame to its decode, summed over decoded frames. */
  totalProcessingDelay: number;
}

export async function receiverCounters(page: Page, pcExpression: string): Promise<ReceiverCounters | undefined> {
  return page.evaluate<ReceiverCounters | undefined>(`(async () => {
    const pc = ${pcExpression};
    if (!pc || !pc.getStats) return undefined;
    const stats = await pc.getStats();
    const rtp = [...stats.values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    if (!rtp) return undefined;
    const n = (x) => x ?? 0;
    return { framesReceived: n(rtp.framesReceived), framesDecoded: n(rtp.framesDecoded), framesDropped: n(rtp.framesDropped), bytesReceived: n(rtp.bytesReceived),
      jitterBufferDelay: n(rtp.jitterBufferDelay), jitterBufferEmittedCount: n(rtp.jitterBufferEmittedCount), totalDecodeTime: n(rtp.totalDecodeTime), totalProcessingDelay: n(rtp.totalProcessingDelay) };
  })()`);
}

/** The receiver over a window: frame rates, bitrate, and the mean delays per frame (ms) inside the browser. */
export interface ReceiverWindow {
  receivedFps: number;
  decodedFps: number;
  dropped: number;
  kbps: number;
  jitterBufferMs?: number;
  decodeMs?: number;
  processingMs?: number;
}

export function receiverWindow(a: ReceiverCounters, b: ReceiverCounters, windowMs: number): ReceiverWindow {
  const perSecond = (n: number) => Math.round((n * 10000) / windowMs) / 10;
  const mean = (seconds: number, count: number) => (count > 0 ? Math.round((seconds / count) * 10000) / 10 : undefined);
  const decoded = b.framesDecoded - a.framesDecoded;
  const jitterBufferMs = mean(b.jitterBufferDelay - a.jitterBufferDelay, b.jitterBufferEmittedCount - a.jitterBufferEmittedCount);
  const decodeMs = mean(b.totalDecodeTime - a.totalDecodeTime, decoded);
  const processingMs = mean(b.totalProcessingDelay - a.totalProcessingDelay, decoded);
  return {
    receivedFps: perSecond(b.framesReceived - a.framesReceived),
    decodedFps: perSecond(decoded),
    dropped: b.framesDropped - a.framesDropped,
    kbps: Math.round(((b.bytesReceived - a.bytesReceived) * 8) / windowMs),
    ...(jitterBufferMs !== undefined ? { jitterBufferMs } : {}),
    ...(decodeMs !== undefined ? { decodeMs } : {}),
    ...(processingMs !== undefined ? { processingMs } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Chromium CPU

/** Every descendant of this process whose command line names Chromium, grouped by process type. */
export function chromiumProcesses(): { pid: number; group: string }[] {
  const out: { pid: number; group: string }[] = [];
  const walk = (ppid: number) => {
    for (const child of childProcesses(ppid)) {
      const cmd = child.args.join(' ');
      if (/chrom/i.test(child.args[0] ?? '') || /chrom/i.test(cmd)) {
        const type = /--type=([\w-]+)/.exec(cmd)?.[1];
        const group = type === undefined ? 'browser' : type === 'renderer' ? 'renderer' : type === 'gpu-process' ? 'gpu' : type === 'zygote' ? 'browser' : 'utility';
        out.push({ pid: child.pid, group });
      }
      walk(child.pid);
    }
  };
  walk(process.pid);
  return out;
}

export type ChromiumCpu = Map<number, { group: string; ms: number }>;

export function sampleChromium(): ChromiumCpu {
  const map: ChromiumCpu = new Map();
  for (const p of chromiumProcesses()) {
    const ms = processCpuMs(p.pid);
    if (ms !== undefined) map.set(p.pid, { group: p.group, ms });
  }
  return map;
}

/** % of one core per group (browser, renderer, gpu, utility) and in all, between two samples windowMs apart. */
export function chromiumWindow(a: ChromiumCpu, b: ChromiumCpu, windowMs: number): Record<string, number> {
  const groups: Record<string, number> = { browser: 0, renderer: 0, gpu: 0, utility: 0, total: 0 };
  for (const [pid, end] of b) {
    const delta = end.ms - (a.get(pid)?.ms ?? 0); // a process started inside the window counts from 0
    groups[end.group] = (groups[end.group] ?? 0) + delta;
    groups.total = (groups.total ?? 0) + delta;
  }
  for (const k of Object.keys(groups)) groups[k] = Math.round(((groups[k] ?? 0) / windowMs) * 1000) / 10;
  return groups;
}
