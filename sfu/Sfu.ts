// The SFU's front door: a worker pool and the rooms (one per live stream) placed on it.
import type { Logger } from './logger.js';
import { Room, type RoomOptions } from './Room.js';
import { WorkerPool, type WorkerPoolOptions } from './WorkerPool.js';

export type SfuOptions = WorkerPoolOptions & RoomOptions;

export interface WorkerUsage {
  index: number;
  pid: number;
  transports: number;
  /** CPU time used by the worker process so far (user + system), in milliseconds. */
  cpuMs: number;
}

export class Sfu {
  private readonly rooms = new Set<Room>();

  private constructor(
    private readonly pool: WorkerPool,
    private readonly options: SfuOptions,
    private readonly logger: Logger,
  ) {}

  static async create(options: SfuOptions, logger: Logger): Promise<Sfu> {
    return new Sfu(await WorkerPool.create(options, logger), options, logger);
  }

  get ports(): number[] {
    return this.pool.ports();
  }

  get workerCount(): number {
    return this.pool.size;
  }

  /**
   * Opens the room of a stream going live. The caller owns it and closes it when the stream ends. With a grace, the
   * room outlives its publisher that long, waiting for a new one (see Room).
   */
  createRoom(id: string, graceMs = 0): Room {
    const room = new Room(id, this.pool, this.options, this.logger.child({ stream: id }), graceMs);
    this.rooms.add(room);
    room.once('close', () => this.rooms.delete(room));
    return room;
  }

  async workerUsage(): Promise<WorkerUsage[]> {
    return Promise.all(
      this.pool.all().map(async (slot) => {
        const usage = await slot.worker.getResourceUsage();
        return { index: slot.index, pid: slot.worker.pid, transports: slot.load, cpuMs: usage.ru_utime + usage.ru_stime };
      }),
    );
  }

  /** What every worker holds (routers, transports, all objects), from mediasoup's own dump: tests use it to prove nothing leaked. */
  async dump(): Promise<{ index: number; routers: number; webRtcTransports: number; objects: number }[]> {
    return Promise.all(
      this.pool.all().map(async (slot) => {
        const worker = (await slot.worker.dump()) as { routerIds: string[]; channelMessageHandlers?: { channelRequestHandlers?: string[] } };
        const server = (await slot.webRtcServer.dump()) as { webRtcTransportIds: string[] };
        // Every router, transport, producer and consumer in the worker answers requests: their count shows a leak.
        const objects = worker.channelMessageHandlers?.channelRequestHandlers?.length ?? 0;
        return { index: slot.index, routers: worker.routerIds.length, webRtcTransports: server.webRtcTransportIds.length, objects };
      }),
    );
  }

  close(): void {
    for (const room of [...this.rooms]) room.close();
    this.pool.close();
  }
}
