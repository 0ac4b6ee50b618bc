// bench:rtmp's browser viewer: an RTMP stream played by play.html in Chromium (lip sync on, the default, or
// ?lipsync=0), its glass-to-glass latency read by the page itself from the generator's browser band, and what the
// RTCPeerConnection's audio and video inbound-rtp did over the window: the jitter-buffer delay of each (Chromium
// holds video back to the audio's playout delay when lip sync is on), and the audio's concealment and time
// stretching (NetEq's expand/accelerate/decelerate, which show a badly paced or badly stamped audio stream).
import type { Page } from 'playwright-core';
import { markReader, readerState } from './browser-latency.js';
import type { BenchBrowser } from './browser.js';
import { waitForFirstFrame, stopSession } from './pages.js';
import { percentile, round } from './report.js';
import { sleep } from './server.js';

/** play.html's RTCPeerConnection. */
const PLAYER_PC = 'window.whipcast?.session?.pc';

/** Cumulative counters of one inbound-rtp (absent fields are 0). */
interface InboundCounters {
  packetsReceived: number;
  jitterBufferDelay: number;
  jitterBufferTargetDelay: number;
  jitterBufferMinimumDelay: number;
  jitterBufferEmittedCount: number;
  framesDecoded: number;
  totalSamplesReceived: number;
  concealedSamples: number;
  insertedSamplesForDeceleration: number;
  removedSamplesForAcceleration: number;
}

type Counters = Partial<Record<'audio' | 'video', InboundCounters>>;

async function counters(page: Page): Promise<Counters> {
  return page.evaluate<Counters>(`(async () => {
    const pc = ${PLAYER_PC};
    if (!pc) return {};
    const out = {};
    for (const s of (await pc.getStats()).values()) {
      if (s.type !== 'inbound-rtp' || (s.kind !== 'audio' && s.kind !== 'video')) continue;
      const n = (x) => x ?? 0;
      out[s.kind] = { packetsReceived: n(s.packetsReceived), jitterBufferDelay: n(s.jitterBufferDelay), jitterBufferTargetDelay: n(s.jitterBufferTargetDelay),
        jitterBufferMinimumDelay: n(s.jitterBufferMinimumDelay), jitterBufferEmittedCount: n(s.jitterBufferEmittedCount), framesDecoded: n(s.framesDecoded),
        totalSamplesReceived: n(s.totalSamplesReceived), concealedSamples: n(s.concealedSamples),
        insertedSamplesForDeceleration: n(s.insertedSamplesForDeceleration), removedSamplesForAcceleration: n(s.removedSamplesForAcceleration) };
    }
    return out;
  })()`);
}

/** One inbound track over a window: mean jitter-buffer delay and target per emitted frame/sample (ms). */
export interface TrackWindow {
  jitterBufferMs?: number;
  targetMs?: number;
  minimumMs?: number;
  packets: number;
  /** Audio: % of the samples played that were concealment, or inserted/removed by time stretching. */
  concealedPct?: number;
  stretchedPct?: number;
}

function trackWindow(a: InboundCounters | undefined, b: InboundCounters | undefined, kind: 'audio' | 'video'): TrackWindow | undefined {
  if (!a || !b) return undefined;
  const emitted = b.jitterBufferEmittedCount - a.jitterBufferEmittedCount;
  const mean = (x: number) => (emitted > 0 ? round((x / emitted) * 1000, 1) : undefined);
  const out: TrackWindow = { packets: b.packetsReceived - a.packetsReceived };
  const jb = mean(b.jitterBufferDelay - a.jitterBufferDelay);
  const target = mean(b.jitterBufferTargetDelay - a.jitterBufferTargetDelay);
  const minimum = mean(b.jitterBufferMinimumDelay - a.jitterBufferMinimumDelay);
  if (jb !== undefined) out.jitterBufferMs = jb;
  if (target !== undefined) out.targetMs = target;
  if (minimum !== undefined) out.minimumMs = minimum;
  if (kind === 'audio') {
    const samples = b.totalSamplesReceived - a.totalSamplesReceived;
    if (samples > 0) {
      out.concealedPct = round(((b.concealedSamples - a.concealedSamples) / samples) * 100, 2);
      const stretched = b.insertedSamplesForDeceleration - a.insertedSamplesForDeceleration + (b.removedSamplesForAcceleration - a.removedSamplesForAcceleration);
      out.stretchedPct = round((stretched / samples) * 100, 2);
    }
  }
  return out;
}

export interface BrowserWindow {
  lipSync: boolean;
  /** play.html's own glass-to-glass latency, one sample per displayed frame whose time code read back (ms). */
  frames: number;
  unreadable: number;
  fps: number;
  p50?: number;
  p95?: number;
  mean?: number;
  ttffMs: number;
  /** The samples (ms, rounded), for pooling over windows. */
  series?: number[];
  audio?: TrackWindow;
  video?: TrackWindow;
  error?: string;
}

/**
 * Plays `stream` ("app/name") in play.html (lip sync on, or ?lipsync=0), waits `warmupMs` after the first frame
 * (Chromium's A/V sync moves the video delay gradually), then measures `windowMs`. The page leaves with a DELETE.
 */
export async function playWindow(b: BenchBrowser, httpUrl: string, stream: string, lipSync: boolean, warmupMs: number, windowMs: number): Promise<BrowserWindow> {
  const player = await b.newPage();
  const query = { stream, autoplay: '1', report: '0', samples: 'all', ...(lipSync ? {} : { lipsync: '0' }) };
  try {
    await player.page.goto(`${httpUrl}/play.html?${new URLSearchParams(query).toString()}`);
    const ttffMs = await waitForFirstFrame(player.page, 30_000);
    await sleep(warmupMs);
    await markReader(player.page);
    const a = await counters(player.page);
    const started = performance.now();
    await sleep(windowMs);
    const state = await readerState(player.page);
    const z = await counters(player.page);
    const elapsed = performance.now() - started;
    await stopSession(player.page);
    const samples = state.samples;
    const r = (x: number | undefined) => (x === undefined ? undefined : round(x, 1));
    const audio = trackWindow(a.audio, z.audio, 'audio');
    const video = trackWindow(a.video, z.video, 'video');
    return {
      lipSync,
      frames: samples.length,
      unreadable: state.unreadable,
      fps: round(state.shown / (elapsed / 1000), 1),
      ...(samples.length > 0 ? { p50: r(percentile(samples, 50)), p95: r(percentile(samples, 95)), mean: r(samples.reduce((s, x) => s + x, 0) / samples.length) } : {}),
      ttffMs: round(ttffMs, 0),
      series: samples.map((x) => round(x, 1)),
      ...(audio ? { audio } : {}),
      ...(video ? { video } : {}),
    };
  } catch (error) {
    return { lipSync, frames: 0, unreadable: 0, fps: 0, ttffMs: 0, error: (error as Error).message.split('\n')[0] ?? 'error' };
  } finally {
    await player.close();
  }
}
