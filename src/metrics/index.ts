// The server's Prometheus metrics (prom-client), collected here and served by src/http/metrics.ts: process
// metrics, HTTP requests by route pattern, the live streams (streams.ts), their media and viewers' links (media.ts), the FFmpeg and
// mediasoup processes (processes.ts), what viewers report (viewers.ts), renditions (transcoding.ts), and refused
// requests by reason. Each server has its own registry, so servers in one process (the tests) do not mix their counts.
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import type { DenialCounter } from '../access/denials.js';
import { mediaGauges, viewerLinkGauges } from './media.js';
import { processGauges } from './processes.js';
import { EMPTY_SNAPSHOT, takeSnapshot, type SnapshotSources } from './snapshot.js';
import { streamGauges, type StreamSources } from './streams.js';
import { transcodingMetrics, type TranscodingSources } from './transcoding.js';
import { viewerHistograms, type ViewerReport } from './viewers.js';

export type { ViewerReport } from './viewers.js';

export interface MetricsOptions extends StreamSources, SnapshotSources, TranscodingSources {
  denials: DenialCounter;
  /** app/stream labels on the media gauges (config metrics.perStreamLabels). */
  perStreamLabels: boolean;
}

export interface Metrics {
  /** The exposition's content type (Prometheus text format). */
  contentType: string;
  /** Everything, measured now. */
  scrape: () => Promise<string>;
  /** One HTTP request answered: its route pattern ('unmatched' when none), method and status. */
  requestServed: (route: string, method: string, status: number) => void;
  /** A viewer's report (GET /ws/player). */
  viewerReport: (report: ViewerReport) => void;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let snapshot = EMPTY_SNAPSHOT;
  const current = () => snapshot;

  const requests = new Counter({
    name: 'whipcast_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  streamGauges(registry, options);
  mediaGauges(registry, current, options.perStreamLabels);
  viewerLinkGauges(registry, current, options.perStreamLabels);
  processGauges(registry, current);
  transcodingMetrics(registry, options);
  new Counter({
    name: 'whipcast_auth_denials_total',
    help: 'Requests refused with 401/403, by reason (missing_key, malformed_key, bad_hash, expired, ip, referer, token, domain_type, forbidden, admin_token, hook, other)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of options.denials.entries()) this.inc({ reason }, count);
    },
  });
  const viewerReport = viewerHistograms(registry, options.perStreamLabels);

  return {
    contentType: registry.contentType,
    scrape: async () => {
      snapshot = await takeSnapshot(options);
      return registry.metrics();
    },
    requestServed: (route, method, status) => requests.inc({ route, method, status: String(status) }),
    viewerReport,
  };
}
