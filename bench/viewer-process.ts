// A child process of bench/fanout.ts hosting many werift WHEP viewers (or the ffmpeg-fed werift publisher) (pure JS: receiving costs CPU, so the
// viewers run outside the server's process and their CPU is measured on its own). Driven over the fork IPC
// channel (lib/viewer-protocol.ts); exits when the parent goes away.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { installUdpHooks } from './lib/udp.js';
import type { ViewerCommand, ViewerReply, ViewerWindow } from './lib/viewer-protocol.js';
import { publishFfmpeg, view, type Feedback, type Publisher, type Viewer } from './lib/webrtc.js';

// argv[2]: SO_RCVBUF for our UDP sockets in bytes (0 = the system default).
installUdpHooks({ recvBufferBytes: Number(process.argv[2] ?? 0) });

const viewers: Viewer[] = [];
const debug = process.env.WHIPCAST_BENCH_DEBUG === '1';
// How late this process runs its callbacks: a viewer process that cannot keep up shows here first.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let publisher: Publisher | undefined;

function reply(message: ViewerReply): void {
  process.send?.(message);
}

async function join(url: string, count: number, concurrency: number, timeoutMs: number, feedback: Feedback, light: boolean): Promise<Omit<Extract<ViewerReply, { type: 'joined' }>, 'id' | 'type'>> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const joinMs: number[] = [];
  const one = async (): Promise<void> => {
    let viewer: Viewer | undefined;
    try {
      viewer = await view(url, { feedback, light });
      const started = viewer.timings.postAt;
      const v = viewer;
      // Joined = DTLS connected and the first video packet in (the server asked the publisher for a key frame).
      const deadline = performance.now() + timeoutMs;
      while (v.video.packets === 0 || v.pc.connectionState !== 'connected') {
        if (performance.now() > deadline) throw new Error(`no video within ${timeoutMs} ms (state ${v.pc.connectionState})`);
        await new Promise((r) => setTimeout(r, 20));
      }
      joinMs.push((v.timings.firstVideoAt ?? performance.now()) - started);
      viewers.push(v);
      ok++;
      if (debug) {
        const index = viewers.length;
        v.pc.connectionStateChange.subscribe((state) => console.error(`[viewer ${process.pid}/${index}] ${new Date().toISOString()} ${state}`));
      }
    } catch (error) {
      failed++;
      if (errors.length < 5) errors.push((error as Error).message);
      await viewer?.close().catch(() => undefined);
    }
  };
  const lanes = Array.from({ length: Math.max(1, concurrency) }, async () => {
    while (next < count) {
      next++;
      await one();
    }
  });
  await Promise.all(lanes);
  return { ok, failed, errors, joinMs, total: viewers.length };
}

async function handle(message: ViewerCommand): Promise<void> {
  try {
    switch (message.cmd) {
      case 'join':
        reply({ id: message.id, type: 'joined', ...(await join(message.url, message.count, message.concurrency, message.timeoutMs, message.feedback, message.light)) });
        break;
      case 'window-start':
        loopDelay.reset();
        for (const v of viewers) {
          v.video.startWindow();
          v.audio.startWindow();
        }
        reply({ id: message.id, type: 'window-started' });
        break;
      case 'window-end': {
        const windows: ViewerWindow[] = viewers.map((v) => ({ state: v.pc.connectionState, video: v.video.endWindow(), audio: v.audio.endWindow() }));
        reply({ id: message.id, type: 'window', viewers: windows, loopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 } });
        break;
      }
      case 'publish': {
        const p = await publishFfmpeg(message.url, message.encoder);
        publisher = p;
        await p.connected;
        reply({ id: message.id, type: 'published', encoderPid: p.encoderPid ?? -1 });
        break;
      }
      case 'close':
        await Promise.race([Promise.allSettled([...viewers.map((v) => v.close()), publisher?.close()]), new Promise((r) => setTimeout(r, 5000))]);
        viewers.length = 0;
        reply({ id: message.id, type: 'closed' });
        setTimeout(() => process.exit(0), 50);
        break;
    }
  } catch (error) {
    reply({ id: message.id, type: 'error', message: (error as Error).message });
  }
}

process.on('message', (message: ViewerCommand) => void handle(message));
process.on('disconnect', () => {
  publisher?.kill();
  process.exit(0);
});
// werift may throw from socket callbacks of a peer being torn down; a viewer process must not die of it.
process.on('uncaughtException', (error) => console.error(`[viewer ${process.pid}] ${error.message}`));
process.on('unhandledRejection', (error) => console.error(`[viewer ${process.pid}] ${(error as Error)?.message ?? String(error)}`));
