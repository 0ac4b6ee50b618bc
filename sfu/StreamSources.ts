// The publishers of one stream, a primary and a backup, and which one its viewers get: the active one feeds the
// stable tracks (StableTracks). While both are there, their media is watched: when the active one stops delivering
// (nothing for `failoverMs`) the other takes over, and when it leaves the other takes over at once. With
// `revert: auto`, a backup hands back to the primary once the primary has delivered without a break for `holdMs`
// and no switch has happened for as long, so a primary that comes and goes makes at most one switch per hold time.
// A switch between two live publishers leaves no gap: the old one feeds the viewers until the new one's key frame.
import { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';
import type { PlainPublisher } from './PlainPublisher.js';
import type { StableTracks } from './StableTracks.js';
import type { WebRtcPublisher } from './WebRtcPublisher.js';

export type SourceRole = 'primary' | 'backup';

export interface FailoverPolicy {
  /** The active publisher counts as failed after this long without media, with the other delivering. */
  failoverMs: number;
  /** A revert waits for the primary to deliver this long without a break, and for this long since the last switch. */
  holdMs: number;
  /** auto: switch back to the primary by itself; manual: only the control API switches back. */
  revert: 'auto' | 'manual';
}

export type SourcePublisher = WebRtcPublisher | PlainPublisher;

/** A publisher of the stream as the API shows it. */
export interface SourceState {
  role: SourceRole;
  sessionId: string;
  active: boolean;
  /** Since its last media packet (null: none seen yet; only watched while the stream has two publishers). */
  msSinceMedia: number | null;
  /** It sent media within the failover time (when watched), or is the only publisher. */
  delivering: boolean;
}

/** A change of the publisher viewers get. */
export interface SourceChange {
  /** The stream's first publisher becoming active (its going live, not a switch). */
  first: boolean;
  from: SourceRole | undefined;
  to: SourceRole;
  sessionId: string;
  reason: string;
}

/** How long a new publisher counts as delivering before its first media (ICE, DTLS, its encoder starting). */
const STARTING_MS = 3000;
/** How often both publishers' packet counters are read while a stream has two. */
const WATCH_INTERVAL_MS = 100;

class Source {
  packets = 0;
  lastMediaAt: number | undefined;
  /** Since when it has delivered without a break longer than the failover time. */
  deliveringSince: number | undefined;
  readonly joinedAt = Date.now();

  constructor(
    readonly role: SourceRole,
    readonly publisher: SourcePublisher,
  ) {}

  async watch(now: number, failoverMs: number): Promise<void> {
    const stats = await Promise.all(this.publisher.producers.map((p) => p.getStats().catch(() => [])));
    const packets = stats.flat().reduce((sum, s) => sum + s.packetCount, 0);
    if (packets > this.packets) {
      if (this.lastMediaAt === undefined || now - this.lastMediaAt > failoverMs) this.deliveringSince = now;
      this.packets = packets;
      this.lastMediaAt = now;
    }
  }

  delivering(now: number, failoverMs: number): boolean {
    return this.lastMediaAt !== undefined && now - this.lastMediaAt <= failoverMs;
  }
}

export class StreamSources extends EventEmitter<{ change: [SourceChange] }> {
  private readonly sources = new Map<SourceRole, Source>();
  private activeRole: SourceRole | undefined;
  private lastSwitchAt = 0;
  private watchTimer: NodeJS.Timeout | undefined;
  private watching = false;
  /** Switches run one at a time (each attaches consumers). */
  private switching: Promise<unknown> = Promise.resolve();

  constructor(
    readonly stable: StableTracks,
    private readonly policy: FailoverPolicy,
    private readonly logger: Logger,
  ) {
    super();
  }

  get active(): SourcePublisher | undefined {
    return this.activeRole ? this.sources.get(this.activeRole)?.publisher : undefined;
  }

  get activeSource(): SourceRole | undefined {
    return this.activeRole;
  }

  get size(): number {
    return this.sources.size;
  }

  has(role: SourceRole): boolean {
    return this.sources.has(role);
  }

  publisherOf(role: SourceRole): SourcePublisher | undefined {
    return this.sources.get(role)?.publisher;
  }

  /**
   * Whether the publisher in `role` has sent media lately: within the failover time when both are watched, else
   * within mediasoup's last second of received bitrate.
   */
  async delivering(role: SourceRole): Promise<boolean> {
    const source = this.sources.get(role);
    if (!source) return false;
    // A publisher that has just joined may not have sent anything yet.
    if (Date.now() - source.joinedAt < STARTING_MS) return true;
    if (this.watchTimer) return source.delivering(Date.now(), this.policy.failoverMs);
    return recentlyReceived(source.publisher);
  }

  states(): SourceState[] {
    const now = Date.now();
    const watched = this.watchTimer !== undefined;
    return [...this.sources.values()].map((s) => ({
      role: s.role,
      sessionId: s.publisher.id,
      active: s.role === this.activeRole,
      msSinceMedia: s.lastMediaAt === undefined ? null : now - s.lastMediaAt,
      delivering: watched ? s.delivering(now, this.policy.failoverMs) : true,
    }));
  }

  /**
   * A publisher joins as `role`. With none active (the first, or one coming back to a waiting stream) it feeds the
   * viewers at once; else it stands by, and a primary joining a stream on its backup takes over by the policy.
   */
  async add(role: SourceRole, publisher: SourcePublisher): Promise<void> {
    if (this.sources.has(role)) throw new Error(`the stream already has a ${role} publisher`);
    const source = new Source(role, publisher);
    this.sources.set(role, source);
    if (!this.activeRole) await this.switchTo(role, this.lastSwitchAt === 0 ? 'first publisher' : 'a publisher joined the stream while it had none', false);
    else this.logger.info({ role, active: this.activeRole }, 'publisher standing by');
    this.watch();
  }

  /** A publisher left: if it was the active one, the other (if any) takes over at once. */
  remove(publisher: SourcePublisher): void {
    const source = [...this.sources.values()].find((s) => s.publisher === publisher);
    if (!source) return;
    this.sources.delete(source.role);
    this.watch();
    if (source.role !== this.activeRole) return;
    this.activeRole = undefined;
    this.stable.detach();
    const other = [...this.sources.values()][0];
    if (other) void this.switchTo(other.role, `the ${source.role} publisher left`);
  }

  /** The control API's switch; false if there is no such publisher. */
  async select(role: SourceRole): Promise<boolean> {
    if (!this.sources.has(role)) return false;
    if (role !== this.activeRole) await this.switchTo(role, 'switched by the control API');
    return true;
  }

  close(): void {
    clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    this.sources.clear();
  }

  private switchTo(role: SourceRole, reason: string, seamless = true): Promise<void> {
    const run = this.switching.then(async () => {
      const source = this.sources.get(role);
      if (!source || role === this.activeRole) return;
      const from = this.activeRole;
      if (!seamless) this.stable.detach();
      await this.stable.attach(source.publisher.producers);
      this.activeRole = role;
      this.logger.info({ from, to: role, session: source.publisher.id, reason }, 'active publisher switched');
      const first = this.lastSwitchAt === 0;
      this.lastSwitchAt = Date.now();
      this.emit('change', { first, from, to: role, sessionId: source.publisher.id, reason });
    });
    this.switching = run.catch((error: unknown) => this.logger.error({ err: error, role }, 'cannot switch the active publisher'));
    return run;
  }

  /** Watches the publishers' media while there are two (one alone has no one to hand over to). */
  private watch(): void {
    if (this.sources.size < 2) {
      clearInterval(this.watchTimer);
      this.watchTimer = undefined;
      return;
    }
    if (this.watchTimer) return;
    this.watchTimer = setInterval(() => void this.check(), WATCH_INTERVAL_MS);
  }

  private async check(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    try {
      const now = Date.now();
      const { failoverMs, holdMs, revert } = this.policy;
      await Promise.all([...this.sources.values()].map((s) => s.watch(now, failoverMs)));
      const active = this.activeRole ? this.sources.get(this.activeRole) : undefined;
      const other = [...this.sources.values()].find((s) => s !== active);
      if (!other || !other.delivering(now, failoverMs)) return;
      if (!active || !active.delivering(now, failoverMs)) {
        await this.switchTo(other.role, `no media from the ${active?.role ?? 'active'} publisher for ${failoverMs} ms`);
      } else if (revert === 'auto' && other.role === 'primary' && now - (other.deliveringSince ?? now) >= holdMs && now - this.lastSwitchAt >= holdMs) {
        await this.switchTo('primary', `the primary has delivered for ${holdMs} ms`);
      }
    } finally {
      this.watching = false;
    }
  }
}

/** Whether a publisher's producers received anything in mediasoup's last bitrate window (one second). */
async function recentlyReceived(publisher: SourcePublisher): Promise<boolean> {
  const stats = await Promise.all(publisher.producers.map((p) => p.getStats().catch(() => [])));
  return stats.flat().some((s) => s.bitrate > 0);
}
