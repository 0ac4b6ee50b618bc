// The simulcast layers one FFmpeg makes (the RTMP bridge's source layer and its WebRTC ladder's renditions) into one
// plain producer. mediasoup takes a plain transport's RTP from one address only, and FFmpeg sends each output from a
// socket of its own, so every output is sent here and forwarded from the track's fixed local ports: RTP from
// localPort, the outputs' RTCP sender reports from localPort + 1. Packets go on unchanged (each output carries its
// layer's SSRC). close() closes the sockets.
// FFmpeg sends an output's first sender report just before its first RTP packet, then one every 5 s. mediasoup drops
// a report for a stream it has not seen yet, and switches a viewer between layers only once both have had one: so a
// layer's reports that come before its first RTP packet are held, and the last of them sent just after that packet.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { RtpTarget } from './rtp.js';
import { bindLoopback, closeSockets } from './udpPorts.js';

interface LayerInput {
  rtp: Socket;
  rtcp: Socket;
  /** Its first RTP packet has gone on. */
  flowing: boolean;
  /** Its last sender report from before that. */
  heldReport: Buffer | undefined;
}

/** After a layer's first RTP packet, before its held report (mediasoup then knows the stream; RTP and RTCP come on separate sockets). */
const HELD_REPORT_DELAY_MS = 20;

export class LayerMux {
  private readonly rtp: Socket = createSocket('udp4');
  private readonly rtcp: Socket = createSocket('udp4');
  private readonly inputs: LayerInput[];
  readonly ready: Promise<void>;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly target: Pick<RtpTarget, 'ip' | 'port' | 'rtcpPort' | 'localPort'>,
    layers: number,
    private readonly logger: Logger,
  ) {
    this.inputs = Array.from({ length: layers }, () => ({ rtp: createSocket('udp4'), rtcp: createSocket('udp4'), flowing: false, heldReport: undefined }));
    for (const input of this.inputs) {
      input.rtp.on('message', (packet) => {
        this.rtp.send(packet, target.port, target.ip);
        if (!input.flowing) this.startFlowing(input);
      });
      input.rtcp.on('message', (packet) => {
        if (input.flowing) this.sendReport(packet);
        else input.heldReport = packet;
      });
    }
    this.rtcp.on('message', () => undefined); // the SFU's receiver reports and key-frame requests: FFmpeg cannot take them
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    closeSockets(this.sockets());
  }

  private startFlowing(input: LayerInput): void {
    input.flowing = true;
    const report = input.heldReport;
    input.heldReport = undefined;
    if (!report) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) this.sendReport(report);
    }, HELD_REPORT_DELAY_MS);
    this.timers.add(timer);
  }

  private sendReport(packet: Buffer): void {
    this.rtcp.send(packet, this.target.rtcpPort, this.target.ip);
  }

  private sockets(): Socket[] {
    return [this.rtp, this.rtcp, ...this.inputs.flatMap((input) => [input.rtp, input.rtcp])];
  }
}
