// Worker thread of the time-code generator (see rtmp-generator.ts): renders 1280×720 yuv420p frames at 30 fps,
// stamps each with Date.now() just before handing it over, and writes it to a FIFO that ffmpeg reads. A worker of
// its own (blocking writes, Atomics.wait for pacing) keeps the stamps honest whatever the main thread is doing.
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { workerData } from 'node:worker_threads';
import { Background, FPS, FRAME_BYTES, stamp, stampBrowserBand } from './rtmp-timecode.js';

export interface GeneratorWorkerData {
  fifo: string;
  /** Int32Array over it: [0] stop flag (main sets 1 and notifies), [1] frames written, [2] frames skipped (late). */
  control: SharedArrayBuffer;
  /** Float64Array(65536) over it: the Date.now() stamped into the frame with counter i. */
  sent: SharedArrayBuffer;
  /** Float64Array(1) over it: the longest write into the FIFO, in ms (ffmpeg not reading fast enough). */
  maxWriteMs: SharedArrayBuffer;
}

const data = workerData as GeneratorWorkerData;
const control = new Int32Array(data.control);
const sent = new Float64Array(data.sent);
const maxWrite = new Float64Array(data.maxWriteMs);
const period = 1000 / FPS;

function run(): void {
  const background = new Background();
  const frame = Buffer.alloc(FRAME_BYTES);
  // Blocks until ffmpeg opens the FIFO for reading (or the main thread does, to unblock us when stopping).
  const fd = openSync(data.fifo, 'w');
  try {
    const start = performance.now();
    let n = 0;
    while (Atomics.load(control, 0) === 0) {
      const wait = start + n * period - performance.now();
      if (wait > 0) {
        Atomics.wait(control, 0, 0, wait);
        continue;
      }
      // More than two frames behind (ffmpeg stalled): skip ahead rather than burst.
      if (-wait > 2 * period) {
        const due = Math.floor((performance.now() - start) / period);
        Atomics.add(control, 2, due - n);
        n = due;
      }
      background.render(frame, n);
      const counter = n & 0xffff;
      const timeMs = Date.now();
      stamp(frame, { timeMs, counter });
      stampBrowserBand(frame, timeMs);
      sent[counter] = timeMs;
      const before = performance.now();
      let written = 0;
      while (written < frame.length) written += writeSync(fd, frame, written, frame.length - written);
      const took = performance.now() - before;
      if (took > (maxWrite[0] ?? 0)) maxWrite[0] = took;
      Atomics.add(control, 1, 1);
      n++;
    }
  } catch (error) {
    // EPIPE: ffmpeg went away (or we were stopped while blocked). Anything else is worth a line.
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') console.error(`[generator] ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

run();
