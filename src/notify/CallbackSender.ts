// Event callbacks: JSON POSTs to a configured URL, signed (SignedPoster), retried with backoff, through a bounded
// queue. send() never waits and never throws, so media code can call it anywhere.
import type { Logger } from 'pino';
import { SignedPoster } from './SignedPoster.js';

export interface CallbackSenderOptions {
  /** Where events go unless send() names another URL. */
  url?: string | undefined;
  secret?: string | undefined;
  /** Waits before each retry; its length is the number of retries (default 1 s, 2 s, 4 s). */
  retryDelaysMs?: number[];
  /** Per attempt. */
  timeoutMs?: number;
  /** Events waiting or being delivered; more are dropped (and logged). */
  queueSize?: number;
  /** Deliveries in flight at once. */
  concurrency?: number;
}

interface Job {
  url: string;
  body: string;
  event: string;
}

export class CallbackSender {
  private readonly queue: Job[] = [];
  private active = 0;
  private closed = false;
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly retryDelaysMs: number[];
  private readonly timeoutMs: number;
  private readonly queueSize: number;
  private readonly concurrency: number;
  private readonly poster: SignedPoster;
  /** Events given up or dropped, for logs and tests. */
  dropped = 0;

  constructor(
    private readonly options: CallbackSenderOptions,
    private readonly logger: Logger,
  ) {
    this.retryDelaysMs = options.retryDelaysMs ?? [1000, 2000, 4000];
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.queueSize = options.queueSize ?? 1000;
    this.concurrency = options.concurrency ?? 4;
    this.poster = new SignedPoster(options.secret);
  }

  /** The configured URL (callbacks.url). */
  get url(): string | undefined {
    return this.options.url;
  }

  /** Whether send() without a URL goes anywhere. */
  get enabled(): boolean {
    return this.options.url !== undefined;
  }

  /** Queues an event (an object with an `event` name); `url` overrides the configured one. Never throws. */
  send(event: { event: string } & Record<string, unknown>, url: string | undefined = this.options.url): void {
    if (url === undefined || this.closed) return;
    if (this.queue.length + this.active >= this.queueSize) {
      this.dropped++;
      this.logger.warn({ url, event: event.event, queueSize: this.queueSize }, 'callback queue full: event dropped');
      return;
    }
    this.queue.push({ url, body: JSON.stringify(event), event: event.event });
    this.pump();
  }

  /** Stops retrying; events not delivered yet are dropped. */
  close(): void {
    this.closed = true;
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    this.timers.clear();
    this.queue.length = 0;
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.active++;
      void this.deliver(job).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async deliver(job: Job): Promise<void> {
    for (let attempt = 0; attempt <= this.retryDelaysMs.length && !this.closed; attempt++) {
      if (attempt > 0) await this.sleep(this.retryDelaysMs[attempt - 1] ?? 0);
      if (this.closed) break;
      try {
        const response = await this.poster.post(job.url, job.body, this.timeoutMs);
        await response.body?.cancel();
        if (response.ok) return;
        this.logger.warn({ url: job.url, status: response.status, event: job.event, attempt }, 'callback refused');
      } catch (error) {
        this.logger.warn({ url: job.url, err: (error as Error).message, event: job.event, attempt }, 'callback failed');
      }
    }
    this.dropped++;
    if (!this.closed) this.logger.error({ url: job.url, event: job.event }, 'callback given up');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }
}
