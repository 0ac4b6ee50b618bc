// The simulcast layers one FFmpeg makes (the RTMP bridge's source layer and its WebRTC ladder's renditions) into one
// plain producer. mediasoup takes a plain transport's RTP from one address only, and FFmpeg sends each output from a
// socket of its own, so every output is sent here and forwarded from the track's fixed local ports: RTP from
// localPort, the outputs' RTCP sender reports from localPort + 1. Packets go on unchanged (each output carries its
// layer's SSRC). close() closes the sockets.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { RtpTarget } from './rtp.js';
import { bindLoopback, closeSockets } from './udpPorts.js';

interface LayerInput {
  rtp: Socket;
  rtcp: Socket;
}

export class LayerMux {
  private readonly rtp: Socket = createSocket('udp4');
  private readonly rtcp: Socket = createSocket('udp4');
  private readonly inputs: LayerInput[];
  readonly ready: Promise<void>;
  private closed = false;

  constructor(
    private readonly target: Pick<RtpTarget, 'ip' | 'port' | 'rtcpPort' | 'localPort'>,
    layers: number,
    private readonly logger: Logger,
  ) {
    this.inputs = Array.from({ length: layers }, () => ({ rtp: createSocket('udp4'), rtcp: createSocket('udp4') }));
    for (const input of this.inputs) {
      input.rtp.on('message', (packet) => this.rtp.send(packet, target.port, target.ip));
      input.rtcp.on('message', (packet) => this.rtcp.send(packet, target.rtcpPort, target.ip));
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
    closeSockets(this.sockets());
  }

  private sockets(): Socket[] {
    return [this.rtp, this.rtcp, ...this.inputs.flatMap((input) => [input.rtp, input.rtcp])];
  }
}
