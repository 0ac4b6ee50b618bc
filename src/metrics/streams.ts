// The live streams as the registry knows them: by ingest protocol and transcode path (transcoding costs CPU and
// latency, so operators watch it), their WebRTC viewers, relays by state, how many are being recorded, and
// continuity: streams waiting for a publisher, publishers by role, and switches of the publisher viewers get.
import { Counter, Gauge, type Registry } from 'prom-client';
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
  countGauge(registry, 'whipcast_live_streams', 'Live streams by ingest protocol and transcode path', ['protocol', 'transcode'], () =>
    streams.list().map((s) => ({ protocol: s.protocol, transcode: s.transcode })),
  );
  new Gauge({
    name: 'whipcast_viewers',
    help: 'WebRTC viewers across all streams',
    registers: [registry],
    collect() {
      this.set(streams.list().reduce((sum, s) => sum + s.room.viewerCount, 0));
    },
  });
  countGauge(registry, 'whipcast_stream_publishers', 'Publishers of live streams by role (primary, backup) and whether viewers get it', ['role', 'active'], () =>
    streams.list().flatMap((s) => s.room.sourceStates().map((p) => ({ role: p.role, active: String(p.active) }))),
  );
  new Gauge({
    name: 'whipcast_waiting_streams',
    help: 'Streams whose publishers left, waiting for one for their reconnect grace (viewers kept)',
    registers: [registry],
    collect() {
      this.set(streams.waitingStreams().length);
    },
  });
  const switches = new Counter({ name: 'whipcast_source_switches_total', help: 'Changes of the publisher a stream\'s viewers get, by the role switched to', labelNames: ['to'], registers: [registry] });
  streams.on('source', (change) => {
    if (!change.first) switches.inc({ to: change.to });
  });
  countGauge(registry, 'whipcast_relays', 'Relays to other RTMP servers by state (connecting, live, retrying, error)', ['state'], () =>
    streams.list().flatMap((s) => sources.relays.statusOf(s).map((relay) => ({ state: relay.state }))),
  );
  new Gauge({
    name: 'whipcast_recorded_streams',
    help: 'Live streams being recorded',
    registers: [registry],
    collect() {
      this.set(streams.list().filter((s) => sources.isRecorded(s)).length);
    },
  });
}

/** A gauge of how many things there are with each combination of labels, counted at each scrape. */
export function countGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], things: () => Record<L, string>[]): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const labels of things()) this.inc(labels);
    },
  });
}
