// One mediasoup Worker per core, each with a WebRtcServer so that all of its WebRTC media uses one UDP and
// one TCP port (worker i listens on rtcPort + i). Load is the number of transports a worker carries.
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { Logger } from './logger.js';

export interface ListenAddress {
  /** Address the UDP/TCP sockets bind to. Bind the exact address you announce (see README: Chromium and 0.0.0.0). */
  ip: string;
  /** Address written into ICE candidates when it differs from `ip` (NAT). */
  announcedIp?: string;
}

export interface WorkerPoolOptions {
  workers: number;
  rtcPort: number;
  listen: ListenAddress[];
  logLevel: ms.WorkerLogLevel;
}

export class WorkerSlot {
  private transports = 0;

  constructor(
    readonly index: number,
    readonly worker: ms.Worker,
    readonly webRtcServer: ms.WebRtcServer,
  ) {}

  /** Transports (WebRTC, plain RTP, pipes) currently open on this worker. */
  get load(): number {
    return this.transports;
  }

  /** Counts a transport of this worker until it closes, however it closes (its owner, its router, the worker). */
  carry(transport: ms.Transport): void {
    this.transports++;
    transport.observer.once('close', () => this.transports--);
  }
}

export class WorkerPool {
  private readonly slots: WorkerSlot[] = [];
  private closed = false;

  private constructor(
    private readonly options: WorkerPoolOptions,
    private readonly logger: Logger,
  ) {}

  static async create(options: WorkerPoolOptions, logger: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(options, logger);
    try {
      for (let i = 0; i < options.workers; i++) pool.slots.push(await pool.startWorker(i));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  all(): readonly WorkerSlot[] {
    return this.slots;
  }

  /** The worker with the fewest transports. */
  leastLoaded(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of this.slots) {
      if (!best || slot.load < best.load) best = slot;
    }
    return best;
  }

  /** UDP/TCP ports in use, for the startup log line. */
  ports(): number[] {
    return this.slots.map((s) => this.options.rtcPort + s.index);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) slot.worker.close();
    this.slots.length = 0;
  }

  private async startWorker(index: number): Promise<WorkerSlot> {
    const worker = await mediasoup.createWorker({ logLevel: this.options.logLevel, appData: { index } });
    try {
      const port = this.options.rtcPort + index;
      const webRtcServer = await worker.createWebRtcServer({
        listenInfos: this.options.listen.flatMap((l) =>
          (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip: l.ip, port, ...(l.announcedIp ? { announcedIp: l.announcedIp } : {}) })),
        ),
      });
      worker.on('died', (error) => this.replaceDeadWorker(index, error));
      return new WorkerSlot(index, worker, webRtcServer);
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  // A dead worker takes its routers (and so its rooms) with it; mediasoup closes those. We start a fresh worker
  // on the same port so that new streams and viewers keep being served.
  private replaceDeadWorker(index: number, error: Error): void {
    this.logger.error({ worker: index, err: error }, 'mediasoup worker died; starting a new one');
    if (this.closed) return;
    const position = this.slots.findIndex((s) => s.index === index);
    if (position >= 0) this.slots.splice(position, 1);
    this.startWorker(index).then(
      (slot) => {
        if (this.closed) slot.worker.close();
        else this.slots.push(slot);
      },
      (startError: unknown) => this.logger.error({ worker: index, err: startError }, 'could not restart mediasoup worker'),
    );
  }
}
