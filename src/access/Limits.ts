// Graceful limits: publishers on the server, viewers per stream and in total, and session creations per client
// address per minute. 0 means unlimited. Each refusal is 'unavailable' or 'rate-limited', with a Retry-After.
import { Refusal } from '../core/index.js';

export interface LimitsConfig {
  maxPublishers: number;
  maxViewersPerStream: number;
  maxViewersTotal: number;
  sessionsPerIpPerMinute: number;
}

const WINDOW_MS = 60_000;

export class Limits {
  /** Session creation times (ms) per client address, within the last minute. */
  private readonly sessions = new Map<string, number[]>();
  private sweeps = 0;

  constructor(
    private readonly config: LimitsConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new publisher while `publishers` streams are live or being admitted. */
  checkPublisher(publishers: number): void {
    const max = this.config.maxPublishers;
    if (max > 0 && publishers >= max) throw new Refusal('unavailable', `server is at its publisher limit (${max})`, { retryAfterSeconds: 30 });
  }

  /** A new viewer of `key` (app/stream), which has `streamViewers`, while the server has `totalViewers`. */
  checkViewer(key: string, streamViewers: number, totalViewers: number): void {
    const perStream = this.config.maxViewersPerStream;
    if (perStream > 0 && streamViewers >= perStream) throw new Refusal('unavailable', `stream ${key} is at its viewer limit (${perStream})`, { retryAfterSeconds: 30 });
    const total = this.config.maxViewersTotal;
    if (total > 0 && totalViewers >= total) throw new Refusal('unavailable', `server is at its viewer limit (${total})`, { retryAfterSeconds: 30 });
  }

  /** Counts a session creation from `ip`; throws 429 once it has made its limit within the last minute. */
  takeSession(ip: string): void {
    const limit = this.config.sessionsPerIpPerMinute;
    if (limit <= 0) return;
    const now = this.now();
    if (++this.sweeps % 1000 === 0) this.sweep(now);
    const times = (this.sessions.get(ip) ?? []).filter((t) => t > now - WINDOW_MS);
    if (times.length >= limit) {
      this.sessions.set(ip, times);
      const retryAfter = Math.max(1, Math.ceil(((times[0] ?? now) + WINDOW_MS - now) / 1000));
      throw new Refusal('rate-limited', `too many sessions from ${ip}: limit ${limit} per minute`, { retryAfterSeconds: retryAfter });
    }
    times.push(now);
    this.sessions.set(ip, times);
  }

  private sweep(now: number): void {
    for (const [ip, times] of this.sessions) if (!times.some((t) => t > now - WINDOW_MS)) this.sessions.delete(ip);
  }
}
