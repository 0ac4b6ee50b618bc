// Measured glass-to-glass latency on the player (docs/architecture.md, "Measuring latency"): every displayed frame of a
// <video> (requestVideoFrameCallback) is drawn to a small canvas, its time code (timecode.js) read, and compared
// with the display time on the server's clock (clock.js). Keeps a sliding window and its p50/p95.
import { BAND_FRACTION, readTimecode } from './timecode.js';
import { localNow, syncClock } from './clock.js';

/** The p-th percentile (0..100) of sorted values, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Starts measuring `video`. `latency` (live): p50/p95 (ms) and samples over the last `windowMs`, clock offset and
 * error; framesShown/framesRead: displayed frames (once the clock is synchronised) and those whose time code was
 * read. p50 is undefined while no displayed frame carried a time code. onUpdate(latency) after each sample.
 * `keepAll`: also keep every sample (ms) in `latency.all`, for benchmarks that read the whole run.
 */
export function measureLatency(video, { baseUrl = '', windowMs = 5000, resyncMs = 30_000, onUpdate = () => {}, keepAll = false } = {}) {
  const latency = { p50: undefined, p95: undefined, samples: 0, last: undefined, framesShown: 0, framesRead: 0, offsetMs: 0, clockErrorMs: undefined, synced: false, ...(keepAll ? { all: [] } : {}) };
  const recent = [];
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = Math.round(360 * BAND_FRACTION);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const resync = async () => {
    try {
      const clock = await syncClock(baseUrl, 8);
      Object.assign(latency, { offsetMs: clock.offsetMs, clockErrorMs: clock.errorMs, synced: true });
    } catch {
      // keep the previous estimate (or the local clock)
    }
  };
  void resync();
  const timer = setInterval(resync, resyncMs);
  let stopped = false;
  const onFrame = (_now, metadata) => {
    if (stopped) return;
    video.requestVideoFrameCallback(onFrame);
    const width = metadata.width || video.videoWidth;
    const height = metadata.height || video.videoHeight;
    if (!width || !height || !latency.synced) return;
    latency.framesShown++;
    // only the band: the bottom BAND_FRACTION of the frame, scaled to 640 wide
    const bandHeight = height * BAND_FRACTION;
    ctx.drawImage(video, 0, height - bandHeight, width, bandHeight, 0, 0, canvas.width, canvas.height);
    const stamped = readTimecode(ctx.getImageData(0, 0, canvas.width, canvas.height), { bandOnly: true });
    if (stamped === undefined) return;
    const shownAt = performance.timeOrigin + (metadata.expectedDisplayTime ?? performance.now()) + latency.offsetMs;
    const at = localNow();
    recent.push({ at, ms: shownAt - stamped });
    while (recent.length > 0 && recent[0].at < at - windowMs) recent.shift();
    const sorted = recent.map((s) => s.ms).sort((a, b) => a - b);
    Object.assign(latency, { p50: percentile(sorted, 50), p95: percentile(sorted, 95), samples: sorted.length, last: shownAt - stamped });
    latency.all?.push(shownAt - stamped);
    latency.framesRead++;
    onUpdate(latency);
  };
  video.requestVideoFrameCallback(onFrame);
  return {
    latency,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
