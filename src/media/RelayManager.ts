// Relays: live streams pushed to other RTMP servers (a standard-latency domain: nginx-rtmp, SRS, a CDN's ingest).
// Rules come from the config and the control API and match on domain/app/stream with "*"; every matching rule
// gives the stream one relay, started when it goes live and stopped when it ends. A relay is an FFmpeg copying the
// stream's FLV feed (H264 + AAC: the SFU egress has already converted WebRTC codecs) to the target; a refused or
// failed push is retried with backoff, and its state shows in GET /api/streams.
import type { Logger } from 'pino';
import { Refusal, streamPath } from '../core/index.js';
import type { RelayRule } from '../config/config.js';
import { feedInput, type FfmpegProcesses, ManagedFfmpeg } from './ffmpeg/ManagedFfmpeg.js';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';

export interface StoredRelayRule extends RelayRule {
  id: string;
}

/** connecting: FFmpeg is starting or connecting; live: media is being pushed; retrying/error: see lastError. */
export type RelayState = 'connecting' | 'live' | 'retrying' | 'error';

export interface RelayStatus {
  ruleId: string;
  url: string;
  state: RelayState;
  lastError: string | undefined;
  restarts: number;
}

/** Consecutive failed runs after which a relay that never went live reports "error" (it keeps retrying). */
const ERROR_AFTER_FAILURES = 3;

class Relay {
  private failures = 0;

  constructor(
    readonly ruleId: string,
    readonly url: string,
    private readonly ffmpeg: ManagedFfmpeg,
  ) {
    ffmpeg.on('progress', () => (this.failures = 0));
    ffmpeg.on('exit', () => this.failures++);
  }

  get status(): RelayStatus {
    const state = this.ffmpeg.state;
    return {
      ruleId: this.ruleId,
      url: redact(this.url),
      state: state === 'running' ? 'live' : state === 'retrying' ? (this.failures >= ERROR_AFTER_FAILURES ? 'error' : 'retrying') : 'connecting',
      lastError: this.ffmpeg.lastError,
      restarts: this.ffmpeg.restartCount,
    };
  }

  start(): void {
    this.ffmpeg.start();
  }

  close(): Promise<void> {
    return this.ffmpeg.close();
  }
}

export class RelayManager {
  private readonly rules: StoredRelayRule[];
  private readonly relays = new Map<LiveStream, Relay[]>();
  /** Relays finishing their push (graceful FFmpeg exit), awaited by close(). */
  private readonly stopping = new Set<Promise<void>>();
  private nextId = 1;

  constructor(
    private readonly registry: StreamRegistry,
    rules: RelayRule[],
    private readonly ffmpegs: FfmpegProcesses,
    private readonly logger: Logger,
  ) {
    this.rules = rules.map((rule) => ({ ...rule, id: this.newId() }));
    registry.on('live', (live) => this.startFor(live, this.rules));
    registry.on('offline', (live) => void this.stopFor(live));
  }

  listRules(): StoredRelayRule[] {
    return [...this.rules];
  }

  /** Adds a rule; streams already live that match it start relaying now. */
  addRule(rule: RelayRule): StoredRelayRule {
    const stored = { ...rule, id: this.newId() };
    this.rules.push(stored);
    for (const live of this.registry.list()) this.startFor(live, [stored]);
    return stored;
  }

  /** Removes a rule and stops its relays. */
  async removeRule(id: string): Promise<void> {
    const index = this.rules.findIndex((r) => r.id === id);
    if (index < 0) throw new Refusal('not-found', `no relay rule ${id}`);
    this.rules.splice(index, 1);
    await Promise.all(
      [...this.relays.values()].map(async (relays) => {
        const stopped = relays.filter((r) => r.ruleId === id);
        for (const relay of stopped) relays.splice(relays.indexOf(relay), 1);
        await Promise.all(stopped.map((r) => r.close()));
      }),
    );
  }

  statusOf(live: LiveStream): RelayStatus[] {
    return (this.relays.get(live) ?? []).map((r) => r.status);
  }

  async close(): Promise<void> {
    await Promise.all([...this.relays.keys()].map((live) => this.stopFor(live)));
    await Promise.all([...this.stopping]);
  }

  private startFor(live: LiveStream, rules: StoredRelayRule[]): void {
    const matching = rules.filter((rule) => matches(rule, live));
    if (matching.length === 0 || live.feed.ended) return;
    const relays = this.relays.get(live) ?? [];
    this.relays.set(live, relays);
    for (const rule of matching) {
      const url = targetUrl(rule.url, live);
      const logger = this.logger.child({ stream: streamPath(live), relay: redact(url) });
      const ffmpeg = new ManagedFfmpeg({
        input: feedInput(live.feed, 'gop', ['-analyzeduration', '1000000']),
        graceful: true,
        ffmpegs: this.ffmpegs,
        logger,
        output: (command) => command.output(url).outputOptions(['-map', '0:v?', '-map', '0:a?', '-c', 'copy', '-f', 'flv', '-flvflags', 'no_duration_filesize', '-rw_timeout', '10000000']),
      });
      const relay = new Relay(rule.id, url, ffmpeg);
      relays.push(relay);
      relay.start();
      logger.info('relay started');
    }
  }

  private async stopFor(live: LiveStream): Promise<void> {
    const relays = this.relays.get(live);
    this.relays.delete(live);
    const stopped = Promise.all((relays ?? []).map((r) => r.close())).then(() => undefined);
    this.stopping.add(stopped);
    await stopped.finally(() => this.stopping.delete(stopped));
  }

  private newId(): string {
    return `relay-${this.nextId++}`;
  }
}

function matches(rule: RelayRule, live: LiveStream): boolean {
  const is = (pattern: string, value: string): boolean => pattern === '*' || pattern === value;
  return is(rule.domain, live.host) && is(rule.app, live.app) && is(rule.stream, live.stream);
}

/** The target URL with {app}/{stream} ({AppName}/{StreamName}) filled in. */
function targetUrl(template: string, live: { app: string; stream: string }): string {
  return template.replace(/\{(app|AppName)\}/g, live.app).replace(/\{(stream|StreamName)\}/g, live.stream);
}

/** The URL without its query (stream keys and auth_key values are secrets). */
function redact(url: string): string {
  return url.split('?')[0] ?? url;
}
