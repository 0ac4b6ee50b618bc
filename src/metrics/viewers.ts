// What players measure and report (web-demo/play.html over GET /ws/player, src/http/events.ts): glass-to-glass
// latency and time to first frame, as histograms (the server cannot measure either itself).
import { Histogram, type Registry } from 'prom-client';

export interface ViewerReport {
  app: string;
  stream: string;
  /** The report's p50 latency. */
  latencyMs: number | null;
  /** Only the first time a viewer connection reports one. */
  ttffMs: number | null;
}

export function viewerHistograms(registry: Registry, perStreamLabels: boolean): (report: ViewerReport) => void {
  const labelNames = perStreamLabels ? ['app', 'stream'] : [];
  const latency = new Histogram({
    name: 'whipcast_viewer_latency_seconds',
    help: 'Glass-to-glass latency viewers measure (p50 of each report) and report',
    labelNames,
    buckets: [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [registry],
  });
  const ttff = new Histogram({
    name: 'whipcast_viewer_ttff_seconds',
    help: 'Time to first frame viewers report (WHEP POST to the first presented frame), once per connection',
    labelNames,
    buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [registry],
  });
  return ({ app, stream, latencyMs, ttffMs }) => {
    const labels = perStreamLabels ? { app, stream } : {};
    if (latencyMs !== null) latency.observe(labels, latencyMs / 1000);
    if (ttffMs !== null) ttff.observe(labels, ttffMs / 1000);
  };
}
