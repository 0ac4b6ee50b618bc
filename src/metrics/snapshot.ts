// What a scrape needs that can only be had asynchronously (mediasoup stats, worker usage, /proc): taken once per
// scrape, before the registry is read, so prom-client's synchronous collect() functions only read this.
import type { RoomStats, Sfu, ViewerLink, WorkerUsage } from '../../sfu/index.js';
import type { ManagedFfmpeg } from '../media/ffmpeg/ManagedFfmpeg.js';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';
import { cpuSeconds, rssBytes } from './proc.js';

export interface Snapshot {
  streams: { live: LiveStream; stats: RoomStats; links: ViewerLink[] }[];
  workers: (WorkerUsage & { rssBytes: number | undefined })[];
  ffmpeg: { role: string; cpuSeconds: number | undefined }[];
}

export interface SnapshotSources {
  streams: StreamRegistry;
  sfu: Pick<Sfu, 'workerUsage'>;
  /** The FFmpeg processes this server runs now. */
  ffmpegs: () => Pick<ManagedFfmpeg, 'role' | 'pid'>[];
}

export const EMPTY_SNAPSHOT: Snapshot = { streams: [], workers: [], ffmpeg: [] };

/** A failing source leaves its part empty: a scrape still answers with everything else. */
export async function takeSnapshot(sources: SnapshotSources): Promise<Snapshot> {
  const [streams, workers, ffmpeg] = await Promise.all([
    Promise.all(sources.streams.list().map(async (live) => ({ live, stats: await live.room.stats(), links: await live.room.viewerLinks() }))).catch(() => []),
    sources.sfu.workerUsage().then((all) => Promise.all(all.map(async (w) => ({ ...w, rssBytes: await rssBytes(w.pid) })))).catch(() => []),
    Promise.all(sources.ffmpegs().filter((f) => f.pid !== undefined).map(async (f) => ({ role: f.role, cpuSeconds: await cpuSeconds(f.pid as number) }))),
  ]);
  return { streams, workers, ffmpeg };
}
