// The live streams as the registry knows them: by ingest protocol and transcode path (transcoding costs CPU and
// latency, so operators watch it), their WebRTC viewers, relays by state, and how many are being recorded.
import { Gauge, type Registry } from 'prom-client';
import type { RelayManager } from '../media/RelayManager.js';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';

export interface StreamSources {
  streams: StreamRegistry;
  relays: RelayManager;
  /** Whether a live stream is being recorded now. */
  isRecorded: (stream: LiveStream) => boolean;
}

export function streamGauges(registry: Registry, sources: StreamSources): void {
  const { streams } = sources;
  new Gauge({
    name: 'whipcast_live_streams',
    help: 'Live streams by ingest protocol and transcode path',
    labelNames: ['protocol', 'transcode'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams.list()) this.inc({ protocol: s.protocol, transcode: s.transcode });
    },
  });
  new Gauge({
    name: 'whipcast_viewers',
    help: 'WebRTC viewers across all streams',
    registers: [registry],
    collect() {
      this.set(streams.list().reduce((sum, s) => sum + s.room.viewerCount, 0));
    },
  });
  new Gauge({
    name: 'whipcast_relays',
    help: 'Relays to other RTMP servers by state (connecting, live, retrying, error)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams.list()) for (const relay of sources.relays.statusOf(s)) this.inc({ state: relay.state });
    },
  });
  new Gauge({
    name: 'whipcast_recorded_streams',
    help: 'Live streams being recorded',
    registers: [registry],
    collect() {
      this.set(streams.list().filter((s) => sources.isRecorded(s)).length);
    },
  });
}
