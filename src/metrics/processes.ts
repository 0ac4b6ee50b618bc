// The processes the server runs besides itself: FFmpeg by role (rtmp bridge, egress, hls, relay, recording) and
// the mediasoup workers, with what they cost in CPU and memory.
import { Gauge, type Registry } from 'prom-client';
import type { Snapshot } from './snapshot.js';

export function processGauges(registry: Registry, snapshot: () => Snapshot): void {
  new Gauge({
    name: 'whipcast_ffmpeg_processes',
    help: 'FFmpeg processes running, by role (rtmp bridge, egress, hls, relay, recording)',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of snapshot().ffmpeg) this.inc({ role: f.role });
    },
  });
  new Gauge({
    name: 'whipcast_ffmpeg_cpu_seconds',
    help: 'CPU time (user + system) used so far by the FFmpeg processes running now, by role',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of snapshot().ffmpeg) this.inc({ role: f.role }, f.cpuSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'whipcast_worker_cpu_seconds',
    help: 'CPU time (user + system) used by each mediasoup worker since it started',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of snapshot().workers) this.set({ worker: String(w.index) }, w.cpuMs / 1000);
    },
  });
  new Gauge({
    name: 'whipcast_worker_memory_bytes',
    help: 'Resident memory of each mediasoup worker',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of snapshot().workers) if (w.rssBytes !== undefined) this.set({ worker: String(w.index) }, w.rssBytes);
    },
  });
  new Gauge({
    name: 'whipcast_worker_transports',
    help: 'WebRTC transports (publishers and viewers) each mediasoup worker carries',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of snapshot().workers) this.set({ worker: String(w.index) }, w.transports);
    },
  });
}
