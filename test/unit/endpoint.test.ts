// The close lifecycle every room party shares (sfu/Endpoint.ts) and the worker load it accounts for, on stand-in
// transports: no mediasoup worker.
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../sfu/Endpoint.js';
import { WorkerSlot } from '../../sfu/WorkerPool.js';

/** What Endpoint and WorkerSlot use of a transport: close() and the observer's 'close'. */
class StandInTransport {
  readonly observer = new EventEmitter();
  closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.observer.emit('close');
  }
}

class TestEndpoint extends Endpoint {
  releases = 0;

  constructor(slot: WorkerSlot, transports: StandInTransport[]) {
    super('endpoint-1', slot, transports as unknown as ms.Transport[], pino({ level: 'silent' }));
  }

  protected override release(): void {
    this.releases++;
  }
}

function setup(transportCount: number) {
  const slot = new WorkerSlot(3, {} as ms.Worker, {} as ms.WebRtcServer);
  const transports = Array.from({ length: transportCount }, () => new StandInTransport());
  return { slot, transports, endpoint: new TestEndpoint(slot, transports) };
}

describe('Endpoint', () => {
  it('counts each of its transports in its worker\'s load until they close', () => {
    const { slot, endpoint } = setup(2);
    expect(slot.load).toBe(2);
    expect(endpoint.workerIndex).toBe(3);
    endpoint.close('done');
    expect(slot.load).toBe(0);
  });

  it('closes once, for the first reason: one release, one event, its transports closed', () => {
    const { transports, endpoint } = setup(2);
    const reasons: string[] = [];
    endpoint.on('close', (reason) => reasons.push(reason));
    expect(endpoint.closed).toBe(false);
    endpoint.close('DELETE by client');
    endpoint.close('stream ended');
    expect(reasons).toEqual(['DELETE by client']);
    expect(endpoint.closed).toBe(true);
    expect(endpoint.closeReason).toBe('DELETE by client');
    expect(endpoint.releases).toBe(1);
    expect(transports.every((t) => t.closed)).toBe(true);
  });

  it('releases the load of a transport closed under it (its router or worker went away)', () => {
    const { slot, transports, endpoint } = setup(2);
    transports[0]?.close();
    expect(slot.load).toBe(1);
    endpoint.close();
    expect(slot.load).toBe(0);
    expect(endpoint.closeReason).toBe('closed');
  });
});
