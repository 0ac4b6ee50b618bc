// The time calibrator: a 1280×720 canvas with a big clock and the machine-readable time code (timecode.js) in
// every frame, drawn with the server's clock (clock.js) once synchronised. Used full screen by calibrator.html
// (an OBS Browser Source) and as a video source by publish.html (canvas.captureStream).
import { drawTimecode } from './timecode.js';
import { localNow, syncClock } from './clock.js';

export const WIDTH = 1280;
export const HEIGHT = 720;

/**
 * Draws the calibrator into `canvas` every animation frame until stop(). `state` (live): offsetMs/errorMs of the
 * clock (server − local), synced, frames drawn. Resynchronises every `resyncMs` (clocks drift).
 */
export function startCalibrator(canvas, { baseUrl = '', resyncMs = 30_000, samples = 8 } = {}) {
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const ctx = canvas.getContext('2d', { alpha: false });
  const state = { offsetMs: 0, errorMs: undefined, synced: false, syncError: undefined, frames: 0 };
  const resync = async () => {
    try {
      const clock = await syncClock(baseUrl, samples);
      Object.assign(state, { offsetMs: clock.offsetMs, errorMs: clock.errorMs, synced: true, syncError: undefined });
    } catch (error) {
      state.syncError = error.message;
    }
  };
  void resync();
  const timer = setInterval(resync, resyncMs);
  let stopped = false;
  const draw = () => {
    if (stopped) return;
    const ms = localNow() + state.offsetMs;
    ctx.fillStyle = '#1d2733';
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    // a bar sweeping once a second: motion for the encoder, and visible stutter
    const phase = (ms % 1000) / 1000;
    ctx.fillStyle = '#3b82f6';
    ctx.fillRect(Math.round(phase * (WIDTH - 40)), Math.round(HEIGHT * 0.72), 40, Math.round(HEIGHT * 0.08));
    const label = state.synced
      ? `UTC · server clock · offset ${state.offsetMs >= 0 ? '+' : ''}${state.offsetMs.toFixed(1)} ms · error ±${state.errorMs.toFixed(1)} ms`
      : `UTC · local clock${state.syncError ? ` (${state.syncError})` : ' (synchronising…)'}`;
    drawTimecode(ctx, WIDTH, HEIGHT, ms, { label });
    state.frames++;
    requestAnimationFrame(draw);
  };
  requestAnimationFrame(draw);
  return {
    state,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
