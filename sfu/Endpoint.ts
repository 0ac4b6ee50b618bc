// What every party to a room shares, whatever carries its media: a WHIP publisher or WHEP viewer (WebRtcPeer), a
// plain-RTP publisher (the RTMP bridge) or subscriber (the standard-latency egress). Its transports count in their
// worker's load, and it closes once, for the first reason given (a DELETE, a timeout, the stream ending): its
// transports close with it and 'close' tells its owners why.
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { Logger } from './logger.js';
import type { WorkerSlot } from './WorkerPool.js';

export type EndpointEvents = { close: [reason: string] };

export abstract class Endpoint extends EventEmitter<EndpointEvents> {
  private closedReason: string | undefined;

  protected constructor(
    readonly id: string,
    protected readonly slot: WorkerSlot,
    private readonly transports: readonly ms.Transport[],
    protected readonly logger: Logger,
  ) {
    super();
    for (const transport of transports) slot.carry(transport);
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  get closeReason(): string | undefined {
    return this.closedReason;
  }

  get workerIndex(): number {
    return this.slot.index;
  }

  close(reason = 'closed'): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.release();
    for (const transport of this.transports) transport.close();
    this.logger.info({ reason }, 'closed');
    this.emit('close', reason);
  }

  /** Frees what the endpoint holds besides its transports (timers); runs once, before they close. */
  protected release(): void {}
}
