// Renditions (src/media/transcoding): those running, by template and the state of their FFmpeg, and those refused,
// by reason (limit: maxRenditions reached; upscale, fps: the template does not fit the source; no_video,
// source_unreadable, name_taken).
import { Counter, type Registry } from 'prom-client';
import { countGauge } from './streams.js';

export interface TranscodingSources {
  renditions: () => { templateId: string; state: string }[];
  renditionRefusals: () => [string, number][];
}

export function transcodingMetrics(registry: Registry, sources: TranscodingSources): void {
  countGauge(registry, 'whipcast_renditions', 'Renditions running, by template and FFmpeg state (starting, running, retrying)', ['template', 'state'], () =>
    sources.renditions().map((r) => ({ template: r.templateId, state: r.state })),
  );
  new Counter({
    name: 'whipcast_rendition_refusals_total',
    help: 'Renditions not started, by reason (limit, upscale, fps, no_video, source_unreadable, name_taken)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of sources.renditionRefusals()) this.inc({ reason }, count);
    },
  });
}
