// Paces the bridge's Opus RTP into the SFU. FFmpeg writes an Opus packet whenever the AAC it decodes completes one,
// and AAC reaches the server in bunches (RTMP encoders interleave it with video; 1024-sample AAC frames do not line
// up with 20 ms Opus frames), so its packets leave in bursts with timestamps that jump by the tags' arrival jitter
// (measured: inter-arrival p95 47 ms, timestamp steps 0–68 ms). A browser's audio jitter buffer (NetEq) sizes itself
// to that, and with lip sync on the browser holds the video back to the audio's delay. mediasoup's sender reports
// to viewers map each track's RTP time to the moment its newest packet reached the SFU, so bursts also blur the
// audio's mapping to the clock both tracks are synchronised by.
//
// The pacer takes FFmpeg's packets on a socket of its own and sends them on from the track's fixed local ports:
// - timestamps: steady, counted in samples from the packets' own durations (the Opus TOC), plus any gap (a pause
//   or an FFmpeg restart) so that media time keeps up with the wall clock; sequence numbers continuous across
//   FFmpeg restarts;
// - send times: packet n at anchor + its media time, where the anchor follows the latest packet of the last
//   WINDOW_MS (a late packet moves it later at once, and it comes back at most SPEEDUP of real time when the
//   bursts shrink): the smallest steady delay the input allows, MAX_QUEUE_MS at most (older packets are dropped);
// - RTCP sender reports (every SR_INTERVAL_MS) with the wall clock as NTP time and the RTP time of that moment on
//   the send schedule, the clock FFmpeg's video reports use too (-start_time_realtime), so both tracks are mapped to
//   one clock.
// FFmpeg's own audio RTCP is not sent (-rtpflags skip_rtcp). close() closes the sockets and the timers.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { bindLoopback, closeSockets } from '../media/ffmpeg/udpPorts.js';
import { senderReport, wallClockMs } from '../media/ffmpeg/rtcp.js';

export interface PacerTarget {
  /** Where the SFU takes the track's RTP and RTCP. */
  ip: string;
  port: number;
  rtcpPort: number;
  /** The fixed local port the SFU expects RTP from (RTCP from port + 1). */
  localPort: number;
  ssrc: number;
}

const CLOCK_RATE = 48_000;
/** The lateness of the last WINDOW_MS decides the delay. */
const WINDOW_MS = 2_000;
/** When the bursts shrink, the delay comes back by at most this share of real time (a 2 % faster send rate). */
const SPEEDUP = 0.02;
/** More than this queued (FFmpeg's burst after a restart): the oldest packets are dropped. */
const MAX_QUEUE_MS = 120;
/** A packet this much later than its schedule, with nothing queued, starts a new schedule (a gap in the audio). */
const GAP_MS = 300;
const SR_INTERVAL_MS = 1_000;

interface Queued {
  packet: Buffer;
  arrivedAt: number;
  /** Media time of its first sample (ms since the schedule began) and its length in samples. */
  mediaMs: number;
  samples: number;
}

/** Samples in an Opus packet (RFC 6716 §3.1: the TOC byte's configuration and frame count), at 48 kHz. */
export function opusSamples(payload: Buffer): number | undefined {
  const toc = payload[0];
  if (toc === undefined) return undefined;
  const config = toc >> 3;
  // SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
  const frameSamples = config < 12 ? [480, 960, 1920, 2880][config & 3] : config < 16 ? [480, 960][config & 1] : [120, 240, 480, 960][config & 3];
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : (payload[1] ?? 0) & 0x3f;
  if (frameSamples === undefined || frames === 0) return undefined;
  return frameSamples * frames;
}

/** The RTP header's length (fixed part, CSRCs and the extension), or undefined if the packet is not RTP. */
function rtpHeaderLength(packet: Buffer): number | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  let length = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < length + 4) return undefined;
    length += 4 + packet.readUInt16BE(length + 2) * 4;
  }
  return packet.length > length ? length : undefined;
}

export class OpusPacer {
  private readonly input: Socket = createSocket('udp4');
  private readonly rtp: Socket = createSocket('udp4');
  private readonly rtcp: Socket = createSocket('udp4');
  readonly ready: Promise<void>;
  private readonly queue: Queued[] = [];
  /** Lateness (arrival − media time) of the packets of the last WINDOW_MS, oldest first. */
  private readonly recent: { at: number; lateness: number }[] = [];
  private anchor: number | undefined;
  /** Media time of the next packet from FFmpeg. */
  private nextMediaMs = 0;
  private readonly tsBase = Math.floor(Math.random() * 2 ** 32);
  private seq = Math.floor(Math.random() * 0x8000);
  private timer: NodeJS.Timeout | undefined;
  private srTimer: NodeJS.Timeout | undefined;
  private lastSent: { ts: number; at: number } | undefined;
  private packets = 0;
  private octets = 0;
  private closed = false;
  /** Counters, for tests and the log; heldMs: the time packets waited here, summed; reports: RTCP sender reports. */
  readonly stats = { received: 0, sent: 0, dropped: 0, gaps: 0, notOpus: 0, heldMs: 0, reports: 0 };

  constructor(
    private readonly target: PacerTarget,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.input.on('message', (packet) => this.receive(packet));
    for (const socket of [this.input, this.rtp, this.rtcp]) socket.on('error', (error) => this.logger.warn({ err: error }, 'audio pacer socket error'));
    this.rtcp.on('message', () => undefined); // the SFU's receiver reports: not needed
    this.ready = Promise.all([
      bindLoopback(this.input, 0),
      bindLoopback(this.rtp, target.localPort),
      bindLoopback(this.rtcp, target.localPort + 1),
    ]).then(() => undefined);
  }

  /** The port FFmpeg sends the Opus RTP to (valid once ready). */
  get inputPort(): number {
    return this.input.address().port;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.srTimer);
    this.queue.length = 0;
    closeSockets([this.input, this.rtp, this.rtcp]);
  }

  /** One packet from FFmpeg (exposed for tests: `at` is its arrival time). */
  receive(packet: Buffer, at = this.now()): void {
    if (this.closed) return;
    const header = rtpHeaderLength(packet);
    const samples = header === undefined ? undefined : opusSamples(packet.subarray(header));
    if (samples === undefined) {
      this.stats.notOpus++;
      return;
    }
    this.stats.received++;
    let mediaMs = this.nextMediaMs;
    let lateness = at - mediaMs;
    if (this.anchor === undefined) {
      this.anchor = lateness;
    } else if (this.queue.length === 0 && lateness > this.anchor + GAP_MS) {
      // A gap (nothing came for a while): media time jumps over it, the delay stays.
      mediaMs = at - this.anchor;
      lateness = this.anchor;
      this.stats.gaps++;
    }
    this.nextMediaMs = mediaMs + (samples * 1000) / CLOCK_RATE;
    this.recent.push({ at, lateness });
    while ((this.recent[0]?.at ?? at) < at - WINDOW_MS) this.recent.shift();
    if (lateness > this.anchor) {
      this.anchor = lateness; // late: everything after it moves later, this one goes now
    } else {
      const latest = Math.max(...this.recent.map((r) => r.lateness));
      const interval = (samples * 1000) / CLOCK_RATE;
      if (this.anchor > latest) this.anchor = Math.max(latest, this.anchor - interval * SPEEDUP);
    }
    this.queue.push({ packet, arrivedAt: at, mediaMs, samples });
    // A burst of more than MAX_QUEUE_MS (FFmpeg restarted from a cached GOP): only the newest is worth playing.
    // What is kept lies within MAX_QUEUE_MS of the newest, which is due MAX_QUEUE_MS from now: no packet waits
    // longer than that, and the kept ones still go out paced rather than all at once.
    let dropped = false;
    while (this.queue.length > 1 && mediaMs - (this.queue[0] as Queued).mediaMs >= MAX_QUEUE_MS) {
      this.queue.shift();
      this.stats.dropped++;
      dropped = true;
    }
    if (dropped) this.anchor = at + MAX_QUEUE_MS - mediaMs;
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    while (this.queue.length > 0) {
      const head = this.queue[0] as Queued;
      const wait = (this.anchor ?? 0) + head.mediaMs - now;
      if (wait > 0.5) {
        this.timer = setTimeout(() => this.schedule(), Math.max(1, Math.round(wait)));
        return;
      }
      this.queue.shift();
      this.send(head, now);
    }
  }

  private send(item: Queued, now: number): void {
    const header = rtpHeaderLength(item.packet) ?? 12;
    const packet = Buffer.from(item.packet);
    const ts = (this.tsBase + Math.round((item.mediaMs * CLOCK_RATE) / 1000)) >>> 0;
    this.seq = (this.seq + 1) & 0xffff;
    packet.writeUInt16BE(this.seq, 2);
    packet.writeUInt32BE(ts, 4);
    packet.writeUInt32BE(this.target.ssrc >>> 0, 8);
    this.rtp.send(packet, this.target.port, this.target.ip);
    // Reports map RTP time to the schedule, not to the moment the event loop got round to sending: a stalled loop
    // delays a packet, but must not shift the audio's mapping to the clock that lip sync uses.
    this.lastSent = { ts, at: Math.min(now, (this.anchor ?? 0) + item.mediaMs) };
    this.packets++;
    this.octets += packet.length - header;
    this.stats.sent++;
    this.stats.heldMs += now - item.arrivedAt;
    if (!this.srTimer) {
      this.sendReport();
      this.srTimer = setInterval(() => this.sendReport(), SR_INTERVAL_MS);
    }
  }

  /** An RTCP sender report: the wall clock now, and the RTP time of now. */
  private sendReport(): void {
    const last = this.lastSent;
    if (!last || this.closed) return;
    const now = this.now();
    const report = senderReport({ ssrc: this.target.ssrc, wallMs: wallClockMs(), rtpTimestamp: last.ts + Math.round(((now - last.at) * CLOCK_RATE) / 1000), packets: this.packets, octets: this.octets });
    this.rtcp.send(report, this.target.rtcpPort, this.target.ip);
    this.stats.reports++;
  }
}
