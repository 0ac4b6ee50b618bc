// The simulcast layers of a WebRTC ladder into one plain producer. mediasoup takes a plain transport's RTP from one
// address only, and the layers come from several sockets (each FFmpeg output has its own), so every layer is sent
// here and forwarded from the track's fixed local ports: RTP from localPort, RTCP sender reports from localPort + 1.
// close() closes the sockets.
//
// mediasoup switches a viewer between layers only once it has had a sender report of both, and maps the layers onto
// one another's timelines by those reports. Where they come from depends on who makes the layers:
// - 'senders' (the RTMP bridge: one FFmpeg makes every layer, one timeline and one clock): the senders' own reports
//   go on. FFmpeg sends an output's first report just before its first RTP packet, which mediasoup drops for a
//   stream it has not seen yet, and the next one only 5 s later: so a layer's reports that come before its first
//   RTP packet are held, and the last of them sent just after that packet.
// - 'arrival' (a WHIP source: its own video is the top layer, an FFmpeg's renditions of it the layers below): the
//   layers have unrelated timelines, and the renditions reach the mux later than the source's frames they were made
//   from. The mux rewrites each layer's SSRC, drops the senders' reports and writes each layer's itself, mapping its
//   RTP time to when its packets arrived here, as mediasoup maps what it sends a viewer. A switch then continues the
//   viewer's timeline from the moment of the switch (never backwards, which mediasoup would refuse), and a viewer on
//   a lower layer sees it as late as its encoder makes it. The SFU's key-frame requests (PLI, FIR) are passed on.
//   Since it rewrites SSRCs, it takes on each input only the SSRC it expects there (the layer's own, or one given
//   with acceptSsrc): ports are reused, and a sender whose own receiver went away (another stream's FFmpeg) may go on
//   sending to a port the mux now has. In 'senders' mode such packets go on, and mediasoup drops their SSRC.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { senderReport, wallClockMs } from './rtcp.js';
import type { RtpTarget } from './rtp.js';
import { bindLoopback, closeSockets } from './udpPorts.js';

export type LayerReports =
  | { from: 'senders' }
  | {
      from: 'arrival';
      /** Each layer's SSRC, lowest first: what it is sent with (see acceptSsrc), and what its packets go on with. */
      ssrcs: readonly number[];
      payloadType: number;
      clockRate: number;
      /** The SFU asked for a key frame of layer `index`. */
      onKeyFrameRequest: (index: number) => void;
    };

interface LayerInput {
  rtp: Socket;
  rtcp: Socket;
  /** Its first RTP packet has gone on. */
  flowing: boolean;
  /** 'senders': its last sender report from before that. */
  heldReport: Buffer | undefined;
  /** 'arrival': the SSRC its sender sends with (other packets are dropped). */
  acceptedSsrc: number;
  /** 'arrival': the last packet's RTP timestamp and when it arrived (wall clock, ms), and the counts for reports. */
  lastTimestamp: number;
  lastArrivalMs: number;
  packets: number;
  octets: number;
}

/** After a layer's first RTP packet, before its first report (mediasoup then knows the stream; RTP and RTCP come on separate sockets). */
const FIRST_REPORT_DELAY_MS = 20;
/** How often the mux writes each layer's report in 'arrival' mode (mediasoup's own interval for video). */
const REPORT_INTERVAL_MS = 1000;
const RTCP_PSFB = 206;
const PSFB_PLI = 1;
const PSFB_FIR = 4;

export class LayerMux {
  private readonly rtp: Socket = createSocket('udp4');
  private readonly rtcp: Socket = createSocket('udp4');
  private readonly inputs: LayerInput[];
  readonly ready: Promise<void>;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private reportTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: Pick<RtpTarget, 'ip' | 'port' | 'rtcpPort' | 'localPort'>,
    layers: number,
    private readonly logger: Logger,
    private readonly reports: LayerReports = { from: 'senders' },
  ) {
    if (reports.from === 'arrival' && reports.ssrcs.length !== layers) throw new Error(`${layers} layers, ${reports.ssrcs.length} SSRCs`);
    this.inputs = Array.from({ length: layers }, (_, i) => ({
      rtp: createSocket('udp4'),
      rtcp: createSocket('udp4'),
      flowing: false,
      heldReport: undefined,
      acceptedSsrc: reports.from === 'arrival' ? (reports.ssrcs[i] ?? 0) : 0,
      lastTimestamp: 0,
      lastArrivalMs: 0,
      packets: 0,
      octets: 0,
    }));
    this.inputs.forEach((input, index) => {
      input.rtp.on('message', (packet) => this.forward(input, index, packet));
      input.rtcp.on('message', (packet) => {
        if (reports.from === 'arrival') return; // the mux writes the reports
        if (input.flowing) this.sendRtcp(packet);
        else input.heldReport = packet;
      });
    });
    // The SFU's receiver reports and key-frame requests: FFmpeg cannot take them, a WHIP source's top layer can.
    this.rtcp.on('message', (packet) => this.fromSfu(packet));
    if (reports.from === 'arrival') {
      this.reportTimer = setInterval(() => this.inputs.forEach((input, index) => input.flowing && this.sendArrivalReport(input, index)), REPORT_INTERVAL_MS);
    }
    for (const socket of this.sockets()) socket.on('error', (error) => this.logger.warn({ err: error }, 'layer mux socket error'));
    this.ready = Promise.all([
      bindLoopback(this.rtp, target.localPort),
      bindLoopback(this.rtcp, target.localPort + 1),
      ...this.inputs.flatMap((input) => [bindLoopback(input.rtp, 0), bindLoopback(input.rtcp, 0)]),
    ]).then(() => undefined);
  }

  /** Where layer `index` (0 the lowest) is to be sent, RTP and RTCP (valid once ready). */
  input(index: number): { port: number; rtcpPort: number } {
    const input = this.inputs[index];
    if (!input) throw new Error(`no layer ${index}`);
    return { port: input.rtp.address().port, rtcpPort: input.rtcp.address().port };
  }

  /** 'arrival': layer `index` is sent with this SSRC, not its own (the top layer forwarded from an SFU consumer). */
  acceptSsrc(index: number, ssrc: number): void {
    const input = this.inputs[index];
    if (!input) throw new Error(`no layer ${index}`);
    input.acceptedSsrc = ssrc;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reportTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    closeSockets(this.sockets());
  }

  private forward(input: LayerInput, index: number, packet: Buffer): void {
    const { reports } = this;
    if (reports.from === 'arrival') {
      // Not the layer's media: RTX, or another sender's packets.
      if (packet.length < 12 || (packet[1] ?? 0) % 128 !== reports.payloadType || packet.readUInt32BE(8) !== input.acceptedSsrc) return;
      packet.writeUInt32BE(reports.ssrcs[index] ?? 0, 8);
      input.lastTimestamp = packet.readUInt32BE(4);
      input.lastArrivalMs = wallClockMs();
      input.packets++;
      input.octets += packet.length - 12;
    }
    this.rtp.send(packet, this.target.port, this.target.ip);
    if (!input.flowing) this.startFlowing(input, index);
  }

  private startFlowing(input: LayerInput, index: number): void {
    input.flowing = true;
    const report = input.heldReport;
    input.heldReport = undefined;
    if (!report && this.reports.from === 'senders') return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      if (report) this.sendRtcp(report);
      else this.sendArrivalReport(input, index);
    }, FIRST_REPORT_DELAY_MS);
    this.timers.add(timer);
  }

  /** A sender report of a layer mapping its RTP time to the wall clock by when its last packet arrived. */
  private sendArrivalReport(input: LayerInput, index: number): void {
    if (this.reports.from !== 'arrival') return;
    const now = wallClockMs();
    const rtpTimestamp = input.lastTimestamp + Math.round(((now - input.lastArrivalMs) * this.reports.clockRate) / 1000);
    this.sendRtcp(senderReport({ ssrc: this.reports.ssrcs[index] ?? 0, wallMs: now, rtpTimestamp, packets: input.packets, octets: input.octets }));
  }

  /** Passes the SFU's key-frame requests (PLI, FIR) for a layer on, in 'arrival' mode. */
  private fromSfu(compound: Buffer): void {
    const { reports } = this;
    if (reports.from !== 'arrival') return;
    for (let offset = 0; offset + 12 <= compound.length; ) {
      const format = (compound[offset] ?? 0) & 0x1f;
      const type = compound[offset + 1];
      const length = (compound.readUInt16BE(offset + 2) + 1) * 4;
      if (type === RTCP_PSFB && (format === PSFB_PLI || (format === PSFB_FIR && offset + 16 <= compound.length))) {
        const ssrc = compound.readUInt32BE(offset + (format === PSFB_PLI ? 8 : 12));
        const index = reports.ssrcs.indexOf(ssrc);
        if (index >= 0) reports.onKeyFrameRequest(index);
      }
      offset += length;
    }
  }

  private sendRtcp(packet: Buffer): void {
    this.rtcp.send(packet, this.target.rtcpPort, this.target.ip);
  }

  private sockets(): Socket[] {
    return [this.rtp, this.rtcp, ...this.inputs.flatMap((input) => [input.rtp, input.rtcp])];
  }
}
