// The bridge's Opus pacer (src/rtmp/OpusPacer.ts), on real UDP sockets on 127.0.0.1: a sink stands in for the
// SFU's PlainTransport (RTP and RTCP ports) and the input is FFmpeg's Opus RTP, sent to the pacer's input socket or
// handed to receive() with its arrival time. The tests of timing run on fake time (FakeTime below), so that a busy
// machine cannot move what they measure; waits are on packets reaching the sink, never on fixed sleeps.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freeUdpPortPair } from '../../src/media/ffmpeg/udpPorts.js';
import { OpusPacer, opusSamples } from '../../src/rtmp/OpusPacer.js';

const logger = pino({ level: 'silent' });
const SSRC = 0x1234_5678;
const PT = 111;
/** CELT fullband 20 ms, stereo, one frame (RFC 6716 §3.1: config 31, s = 1, code 0): 960 samples. */
const TOC_20MS = (31 << 3) | 0x04;
const PAYLOAD_BYTES = 40;
const NTP_EPOCH_OFFSET_S = 2_208_988_800;

/** FFmpeg's Opus RTP packet; the payload carries `id` (bytes 1–4) so that the sink can tell packets apart. */
function opusRtp(id: number, seq: number, ts: number, ssrc = 0xabcd_ef01, marker = false): Buffer {
  const packet = Buffer.alloc(12 + PAYLOAD_BYTES);
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | PT;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(ts >>> 0, 4);
  packet.writeUInt32BE(ssrc >>> 0, 8);
  packet[12] = TOC_20MS;
  packet.writeUInt32BE(id, 13);
  for (let i = 17; i < packet.length; i++) packet[i] = (id * 7 + i) & 0xff;
  return packet;
}

interface Out {
  id: number;
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  marker: boolean;
  payload: Buffer;
  /** Arrival at the sink (performance.now()) and the source port. */
  at: number;
  fromPort: number;
}
interface Report {
  ssrc: number;
  /** The NTP time, as Unix ms. */
  wallMs: number;
  ts: number;
  packets: number;
  octets: number;
  at: number;
}

/** The SFU's side: an RTP and an RTCP socket, and promises for "n packets / n reports have arrived". */
class Sink {
  readonly rtp: Socket = createSocket('udp4');
  readonly rtcp: Socket = createSocket('udp4');
  readonly packets: Out[] = [];
  readonly reports: Report[] = [];
  readonly rtcpFromPorts: number[] = [];
  private waiters: { done: () => boolean; resolve: () => void }[] = [];

  async start(): Promise<void> {
    this.rtp.on('message', (m: Buffer, r: RemoteInfo) => {
      this.packets.push({
        id: m.readUInt32BE(13),
        seq: m.readUInt16BE(2),
        ts: m.readUInt32BE(4),
        ssrc: m.readUInt32BE(8),
        pt: m[1]! & 0x7f,
        marker: (m[1]! & 0x80) !== 0,
        payload: Buffer.from(m.subarray(12)),
        at: performance.now(),
        fromPort: r.port,
      });
      this.check();
    });
    this.rtcp.on('message', (m: Buffer, r: RemoteInfo) => {
      if (m[1] === 200) {
        const seconds = m.readUInt32BE(8);
        const fraction = m.readUInt32BE(12);
        this.reports.push({
          ssrc: m.readUInt32BE(4),
          wallMs: (seconds - NTP_EPOCH_OFFSET_S) * 1000 + (fraction / 2 ** 32) * 1000,
          ts: m.readUInt32BE(16),
          packets: m.readUInt32BE(20),
          octets: m.readUInt32BE(24),
          at: performance.now(),
        });
        this.rtcpFromPorts.push(r.port);
      }
      this.check();
    });
    this.rtp.bind(0, '127.0.0.1');
    this.rtcp.bind(0, '127.0.0.1');
    await Promise.all([once(this.rtp, 'listening'), once(this.rtcp, 'listening')]);
  }

  /** Resolves once `done()` holds (checked at each packet and report that arrives). */
  until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ done, resolve }));
  }

  packetsArrived(n: number): Promise<void> {
    return this.until(() => this.packets.length >= n);
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.done()) return true;
      w.resolve();
      return false;
    });
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  vi.useRealTimers();
});

async function setup(): Promise<{ pacer: OpusPacer; sink: Sink; localPort: number; input: Socket }> {
  const sink = new Sink();
  await sink.start();
  const localPort = await freeUdpPortPair();
  const pacer = new OpusPacer({ ip: '127.0.0.1', port: sink.rtp.address().port, rtcpPort: sink.rtcp.address().port, localPort, ssrc: SSRC }, logger);
  await pacer.ready;
  const input = createSocket('udp4'); // FFmpeg
  input.bind(0, '127.0.0.1');
  await once(input, 'listening');
  cleanups.push(() => {
    pacer.close();
    sink.close();
    input.close();
  });
  return { pacer, sink, localPort, input };
}

interface Step {
  offsetMs: number;
  run: (plannedAt: number) => void;
}

/**
 * The timing tests' clock: vitest's fake setTimeout/setInterval and performance.now(), which both the pacer's
 * schedule and the sink's arrival times read. run() moves it on 1 ms at a time and after each step waits, on the
 * real event loop, until everything sent on the real loopback sockets has arrived, so that a packet's arrival time
 * is the millisecond the pacer sent it, however busy the machine is.
 */
class FakeTime {
  /** Packets the test sent to the pacer's input socket. */
  inputSent = 0;

  constructor(
    private readonly pacer: OpusPacer,
    private readonly sink: Sink,
  ) {}

  private delivered(): boolean {
    const { stats } = this.pacer;
    return this.sink.packets.length >= stats.sent && this.sink.reports.length >= stats.reports && stats.received + stats.notOpus >= this.inputSent;
  }

  private async settle(): Promise<void> {
    while (!this.delivered()) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Runs `steps` (in order of offsetMs, each that long after now) on their schedule, then `afterMs` more. */
  async run(steps: Step[], afterMs: number): Promise<void> {
    const start = performance.now();
    const end = start + (steps.at(-1)?.offsetMs ?? 0) + afterMs;
    let next = 0;
    for (;;) {
      while (next < steps.length && performance.now() >= start + steps[next]!.offsetMs) {
        steps[next]!.run(start + steps[next]!.offsetMs);
        next++;
      }
      await this.settle();
      if (performance.now() >= end) return;
      vi.advanceTimersByTime(1);
    }
  }
}

/** A pacer and its sink on fake time. */
async function setupOnFakeTime(): Promise<Awaited<ReturnType<typeof setup>> & { time: FakeTime }> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
  const parts = await setup();
  return { ...parts, time: new FakeTime(parts.pacer, parts.sink) };
}

/** A sequence number's or timestamp's step, modulo its width. */
const seqStep = (a: number, b: number): number => (b - a) & 0xffff;
const tsStep = (a: number, b: number): number => (b - a) | 0;

/** Deterministic jitter in [-range, range]. */
function jitter(i: number, range: number): number {
  const x = Math.sin(i * 12.9898 + 4.1414) * 43758.5453;
  return Math.round((x - Math.floor(x)) * 2 * range - range);
}

function expectContinuous(packets: Out[]): void {
  for (let i = 1; i < packets.length; i++) {
    expect(seqStep(packets[i - 1]!.seq, packets[i]!.seq), `sequence step before packet ${i}`).toBe(1);
  }
}
function expectTimestampSteps(packets: Out[], samples = 960): void {
  for (let i = 1; i < packets.length; i++) {
    expect(tsStep(packets[i - 1]!.ts, packets[i]!.ts), `timestamp step before packet ${i}`).toBe(samples);
  }
}

describe('opusSamples', () => {
  it('counts the samples from the TOC byte (config and frame count)', () => {
    expect(opusSamples(Buffer.from([TOC_20MS]))).toBe(960);
    expect(opusSamples(Buffer.from([(16 << 3) | 0]))).toBe(120); // CELT 2.5 ms
    expect(opusSamples(Buffer.from([(3 << 3) | 1]))).toBe(2 * 2880); // SILK 60 ms, two frames
    expect(opusSamples(Buffer.from([(13 << 3) | 0]))).toBe(960); // hybrid 20 ms
    expect(opusSamples(Buffer.from([(31 << 3) | 3, 3]))).toBe(3 * 960); // code 3, M = 3
    expect(opusSamples(Buffer.from([(31 << 3) | 3, 0]))).toBeUndefined(); // code 3, M = 0
    expect(opusSamples(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('OpusPacer', () => {
  it('bursty input (3 packets every 60 ms, jittered timestamps) leaves steady: 20 ms apart, 960-sample steps, continuous sequence numbers', async () => {
    const { pacer, sink, localPort, input, time } = await setupOnFakeTime();
    const N = 30;
    const steps: Step[] = [];
    for (let burst = 0; burst < N / 3; burst++) {
      steps.push({
        offsetMs: burst * 60,
        run: () => {
          for (let k = burst * 3; k < burst * 3 + 3; k++) {
            // FFmpeg's timestamps follow the AAC tags' arrival: steps anywhere in 0–68 ms; its sequence wraps
            input.send(opusRtp(k, 65_530 + k, 90_000 + k * 960 + jitter(k, 1600), 0xabcd_ef01, k === 0), pacer.inputPort, '127.0.0.1');
            time.inputSent++;
          }
        },
      });
    }
    await time.run(steps, 100);

    const out = sink.packets;
    expect(out.map((p) => p.id)).toEqual([...Array(N).keys()]);
    expectContinuous(out);
    expectTimestampSteps(out);
    for (const [i, p] of out.entries()) {
      expect(p.ssrc).toBe(SSRC);
      expect(p.pt).toBe(PT);
      expect(p.marker).toBe(i === 0);
      expect(p.fromPort).toBe(localPort); // the SFU's PlainTransport takes RTP from this port only
      expect(p.payload.equals(opusRtp(i, 0, 0).subarray(12))).toBe(true);
    }
    // Paced: two in three of the input's gaps are 0 ms (the rest 60 ms); the output's are 20 ms.
    const gaps = out.slice(1).map((p, i) => p.at - out[i]!.at);
    for (const [i, gap] of gaps.entries()) expect(Math.abs(gap - 20), `gap before packet ${i + 1}`).toBeLessThanOrEqual(1);
    expect(pacer.stats).toMatchObject({ received: N, sent: N, dropped: 0, gaps: 0, notOpus: 0 });
  });

  it('not Opus RTP (no payload, not version 2) is counted and not sent', async () => {
    const { pacer, sink } = await setup();
    pacer.receive(Buffer.from([0x80, PT, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])); // header only
    pacer.receive(Buffer.alloc(30)); // version 0
    pacer.receive(opusRtp(7, 1, 1));
    await sink.packetsArrived(1);
    expect(sink.packets.map((p) => p.id)).toEqual([7]);
    expect(pacer.stats).toMatchObject({ received: 1, sent: 1, notOpus: 2 });
  });

  it("an FFmpeg restart (its sequence numbers and timestamps jump back) and a pause: the output's stay continuous, a pause is a timestamp gap", async () => {
    const { pacer, sink, time } = await setupOnFakeTime();
    const steps: Step[] = [];
    // run 1: 10 packets; run 2 (a new FFmpeg: new SSRC, sequence and timestamps from low values) right after;
    // run 3 after a 500 ms pause (more than the pacer's 300 ms gap), numbering from 0 again.
    for (let i = 0; i < 10; i++) steps.push({ offsetMs: i * 20, run: () => pacer.receive(opusRtp(i, 40_000 + i, 3_000_000 + i * 960, 0x1111)) });
    for (let i = 0; i < 10; i++) steps.push({ offsetMs: 200 + i * 20, run: () => pacer.receive(opusRtp(10 + i, 5 + i, 100 + i * 960, 0x2222)) });
    for (let i = 0; i < 10; i++) steps.push({ offsetMs: 400 + 500 + i * 20, run: () => pacer.receive(opusRtp(20 + i, i, i * 960, 0x3333)) });
    await time.run(steps, 100);

    const out = sink.packets;
    expect(out.map((p) => p.id)).toEqual([...Array(30).keys()]);
    expectContinuous(out);
    expect(out.every((p) => p.ssrc === SSRC)).toBe(true);
    expectTimestampSteps(out.slice(0, 20)); // across the restart: no jump
    expectTimestampSteps(out.slice(20));
    // Across the pause: media time keeps up with the wall clock (the step is the time between the packets).
    const step = tsStep(out[19]!.ts, out[20]!.ts) / 48;
    expect(step).toBeGreaterThan(400);
    expect(Math.abs(step - (out[20]!.at - out[19]!.at))).toBeLessThanOrEqual(1);
    expect(pacer.stats).toMatchObject({ received: 30, sent: 30, dropped: 0, gaps: 1 });
  });

  it('a late packet delays all after it; the delay holds for the 2 s window and then shrinks by at most 2 % of real time', async () => {
    const { pacer, sink, time } = await setupOnFakeTime();
    // Packets every 20 ms; packet 10 comes 20 ms late, with 11.
    const N = 195;
    const planned: number[] = [];
    const steps: Step[] = [];
    for (let i = 0; i < N; i++) {
      if (i === 10) continue;
      steps.push({
        offsetMs: i * 20,
        run: (at: number) => {
          for (const k of i === 11 ? [10, 11] : [i]) {
            planned[k] = at;
            pacer.receive(opusRtp(k, k, k * 960), at);
          }
        },
      });
    }
    await time.run(steps, 100);
    const out = sink.packets;
    expect(out.map((p) => p.id)).toEqual([...Array(N).keys()]);
    expectTimestampSteps(out);
    const hold = out.map((p) => p.at - planned[p.id]!);
    // steady: sent as they come; the late one goes at once
    for (let i = 0; i <= 10; i++) expect(hold[i], `packet ${i}`).toBeLessThanOrEqual(1);
    // the others 20 ms after they came, for as long as it is in the last 2 s (packet 10 came at 220 ms: until
    // packet 111)
    for (let i = 12; i <= 111; i++) expect(Math.abs(hold[i]! - 20), `packet ${i}`).toBeLessThanOrEqual(1);
    // then the delay comes back by 0.4 ms a packet (2 % of 20 ms), never faster, until it is gone
    for (let i = 112; i < N; i++) {
      expect(hold[i], `packet ${i}`).toBeGreaterThanOrEqual(Math.max(0, 20 - 0.4 * (i - 111)) - 1.5);
      expect(hold[i], `packet ${i}`).toBeLessThanOrEqual(Math.max(0, 20 - 0.4 * (i - 112)) + 1.5);
    }
    expect(pacer.stats.dropped).toBe(0);
  });

  it('a burst of more than 120 ms (FFmpeg restarting from a cached GOP) drops the oldest; the sequence stays continuous', async () => {
    const { pacer, sink, time } = await setupOnFakeTime();
    const N = 20;
    const burstAt = performance.now();
    for (let i = 0; i < N; i++) pacer.receive(opusRtp(i, 500 + i, i * 960), burstAt);
    expect(pacer.stats.dropped).toBeGreaterThan(0);
    await time.run([], 200);
    const out = sink.packets;
    expect(out.length + pacer.stats.dropped).toBe(N);
    expect(pacer.stats.sent).toBe(out.length);
    expectContinuous(out);
    expect(out.at(-1)!.id).toBe(N - 1); // the newest is kept
    expect(out.length).toBeLessThan(N);
    // what is queued after the burst goes out paced, 20 ms apart, with 960-sample steps
    const tail = out.slice(-6);
    expectTimestampSteps(tail);
    const gaps = tail.slice(1).map((p, i) => p.at - tail[i]!.at);
    for (const gap of gaps) expect(Math.abs(gap - 20)).toBeLessThanOrEqual(1);
  });

  // A burst arriving at once (an FFmpeg restart): the newest ≤ 120 ms is kept and leaves paced, not in one go.
  it('a burst of more than 120 ms: only the newest packets are kept, and they go out paced', async () => {
    const { pacer, sink, time } = await setupOnFakeTime();
    const N = 20;
    const burstAt = performance.now();
    for (let i = 0; i < N; i++) pacer.receive(opusRtp(i, 500 + i, i * 960), burstAt);
    await time.run([], 200);
    const out = sink.packets;
    // the first (sent before the rest came) and a contiguous run ending with the newest
    const kept = out.slice(1).map((p) => p.id);
    expect(kept).toEqual([...Array(kept.length).keys()].map((k) => N - kept.length + k));
    expect(out.length).toBeLessThanOrEqual(1 + 7);
    expectTimestampSteps(out.slice(1));
    // no more than the first two leave together
    const together = out.slice(1).filter((p, i) => p.at - out[i]!.at < 15).length;
    expect(together).toBeLessThanOrEqual(1);
  });

  it('no packet waits more than 120 ms', async () => {
    const { pacer, sink, time } = await setupOnFakeTime();
    const N = 20;
    const burstAt = performance.now();
    for (let i = 0; i < N; i++) pacer.receive(opusRtp(i, 500 + i, i * 960), burstAt);
    await time.run([], 200);
    const last = sink.packets.at(-1)!;
    expect(last.id).toBe(N - 1);
    expect(last.at - burstAt).toBeLessThanOrEqual(120 + 1);
  });

  it("sender reports: the pacer's SSRC, counts, and the wall clock mapped to RTP time as the packets are sent", async () => {
    const { pacer, sink, localPort, time } = await setupOnFakeTime();
    const N = 60;
    const steps: Step[] = [];
    for (let i = 0; i < N; i++) steps.push({ offsetMs: i * 20, run: (at: number) => pacer.receive(opusRtp(i, i, 7 + i * 960 + jitter(i, 900)), at) });
    await time.run(steps, 100);
    expect(sink.packets.length).toBe(N);

    expect(sink.reports.length).toBeGreaterThanOrEqual(2);
    expect(sink.rtcpFromPorts.every((p) => p === localPort + 1)).toBe(true);
    const wall = (at: number): number => performance.timeOrigin + at;
    for (const report of sink.reports) {
      expect(report.ssrc).toBe(SSRC);
      // it counts what was sent before it (and arrived before it, on loopback)
      const before = sink.packets.filter((p) => p.at <= report.at);
      expect(report.packets).toBeGreaterThanOrEqual(1);
      expect(Math.abs(report.packets - before.length)).toBeLessThanOrEqual(1);
      expect(report.octets).toBe(report.packets * PAYLOAD_BYTES);
      // its NTP time is the wall clock when it was sent
      expect(Math.abs(report.wallMs - wall(report.at))).toBeLessThanOrEqual(1);
      // and the packets' RTP times, mapped through it, are the wall-clock times they went out
      for (const p of sink.packets) expect(Math.abs(report.wallMs + tsStep(report.ts, p.ts) / 48 - wall(p.at)), `packet ${p.id}`).toBeLessThanOrEqual(1);
    }
    // one a second
    expect(Math.abs(sink.reports[1]!.at - sink.reports[0]!.at - 1000)).toBeLessThanOrEqual(1);
  });

  it('close() releases the sockets and the timers, with packets queued', async () => {
    const count = (what: string): number => process.getActiveResourcesInfo().filter((r) => r === what).length;
    const { pacer, sink, localPort } = await setup();
    const inputPort = pacer.inputPort;
    const before = { udp: count('UDPWrap'), timers: count('Timeout') };
    // a burst: the first goes (which starts the sender-report timer), the rest wait in the queue
    const burstAt = performance.now();
    for (let i = 0; i < 5; i++) pacer.receive(opusRtp(i, i, i * 960), burstAt);
    await sink.until(() => sink.packets.length >= 1 && sink.reports.length >= 1);
    // The reports' timer, and the queue's while packets wait (a loaded machine may have let the queue drain by now).
    const queued = pacer.stats.received - pacer.stats.sent;
    expect(count('Timeout')).toBeGreaterThanOrEqual(before.timers + (queued > 0 ? 2 : 1));
    pacer.close();
    pacer.close(); // idempotent
    pacer.receive(opusRtp(9, 9, 9 * 960)); // ignored once closed
    expect(pacer.stats.received).toBe(5);
    // its three sockets are gone and their ports free again (closing is done on the next turns of the loop)
    await new Promise<void>((resolve) => {
      const poll = (): void => (count('UDPWrap') <= before.udp - 3 ? resolve() : void setImmediate(poll));
      poll();
    });
    expect(count('Timeout')).toBeLessThanOrEqual(before.timers);
    const rebound: Socket[] = [];
    for (const port of [localPort, localPort + 1, inputPort]) {
      const socket = createSocket('udp4');
      socket.bind(port, '127.0.0.1');
      await once(socket, 'listening');
      rebound.push(socket);
    }
    for (const socket of rebound) socket.close();
    // What was queued at close() was dropped, not sent.
    expect(sink.packets.length).toBeLessThanOrEqual(5 - queued);
  });
});
