// The WebRTC ladder's UDP mux (src/media/ffmpeg/LayerMux.ts) on real loopback sockets: a sink stands in for the
// SFU's PlainTransport, which takes a track's RTP and RTCP from one fixed address only.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LayerMux } from '../../src/media/ffmpeg/LayerMux.js';
import { freeUdpPortPair } from '../../src/media/ffmpeg/udpPorts.js';

const logger = pino({ level: 'silent' });
const sockets: Socket[] = [];
const muxes: LayerMux[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const mux of muxes.splice(0)) mux.close();
});

async function socket(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  sockets.push(s);
  return s;
}

/** Resolves with the first `n` datagrams a socket receives, and where each came from. */
function received(s: Socket, n: number): Promise<{ data: Buffer; from: RemoteInfo }[]> {
  const got: { data: Buffer; from: RemoteInfo }[] = [];
  return new Promise((resolve) => {
    s.on('message', (data: Buffer, from: RemoteInfo) => {
      got.push({ data, from });
      if (got.length === n) resolve(got);
    });
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('LayerMux', () => {
  it("forwards every layer's RTP and RTCP unchanged, from the track's fixed local ports", async () => {
    const [rtp, rtcp, sender] = [await socket(), await socket(), await socket()];
    const localPort = await freeUdpPortPair();
    const mux = new LayerMux({ ip: '127.0.0.1', port: rtp.address().port, rtcpPort: rtcp.address().port, localPort }, 3, logger);
    muxes.push(mux);
    await mux.ready;
    const rtpIn = received(rtp, 3);
    const rtcpIn = received(rtcp, 3);
    for (let layer = 0; layer < 3; layer++) {
      sender.send(Buffer.from(`rtp of layer ${layer}`), mux.input(layer).port, '127.0.0.1');
      sender.send(Buffer.from(`rtcp of layer ${layer}`), mux.input(layer).rtcpPort, '127.0.0.1');
    }
    const [rtpGot, rtcpGot] = await Promise.all([rtpIn, rtcpIn]);
    expect(rtpGot.map((p) => p.data.toString()).sort()).toEqual(['rtp of layer 0', 'rtp of layer 1', 'rtp of layer 2']);
    expect(rtcpGot.map((p) => p.data.toString()).sort()).toEqual(['rtcp of layer 0', 'rtcp of layer 1', 'rtcp of layer 2']);
    expect(rtpGot.every((p) => p.from.port === localPort)).toBe(true);
    expect(rtcpGot.every((p) => p.from.port === localPort + 1)).toBe(true);
    expect(() => mux.input(3)).toThrow('no layer 3');
  });

  it("holds a layer's sender reports from before its first RTP packet, and sends the last of them just after it", async () => {
    const [rtp, rtcp, sender] = [await socket(), await socket(), await socket()];
    const mux = new LayerMux({ ip: '127.0.0.1', port: rtp.address().port, rtcpPort: rtcp.address().port, localPort: await freeUdpPortPair() }, 2, logger);
    muxes.push(mux);
    await mux.ready;
    const reports: string[] = [];
    const order: string[] = [];
    rtcp.on('message', (data: Buffer) => {
      reports.push(data.toString());
      order.push(`rtcp ${data.toString()}`);
    });
    rtp.on('message', (data: Buffer) => order.push(data.toString()));
    // FFmpeg's order: a report, then the first RTP packet.
    sender.send(Buffer.from('early'), mux.input(0).rtcpPort, '127.0.0.1');
    sender.send(Buffer.from('first'), mux.input(0).rtcpPort, '127.0.0.1');
    // Another layer's packet gone through means the mux has read what was sent before it.
    const other = received(rtp, 1);
    sender.send(Buffer.from('layer 1 rtp'), mux.input(1).port, '127.0.0.1');
    await other;
    expect(reports).toEqual([]);
    const held = received(rtcp, 1);
    sender.send(Buffer.from('layer 0 rtp'), mux.input(0).port, '127.0.0.1');
    await held;
    const next = received(rtcp, 1);
    sender.send(Buffer.from('later'), mux.input(0).rtcpPort, '127.0.0.1');
    await next;
    expect(order).toEqual(['layer 1 rtp', 'layer 0 rtp', 'rtcp first', 'rtcp later']);
  });

  it("'arrival' mode: sends each layer with its SSRC, writes its sender reports from when its packets arrived, drops other payload types and senders, passes key-frame requests on", async () => {
    const [rtp, rtcp, sender] = [await socket(), await socket(), await socket()];
    const localPort = await freeUdpPortPair();
    const requests: number[] = [];
    const ssrcs = [1111, 2222];
    const mux = new LayerMux({ ip: '127.0.0.1', port: rtp.address().port, rtcpPort: rtcp.address().port, localPort }, 2, logger, { from: 'arrival', ssrcs, payloadType: 102, clockRate: 90000, onKeyFrameRequest: (index) => requests.push(index) });
    muxes.push(mux);
    await mux.ready;
    // Layer 1 is sent with SSRC 99 (a forwarded stream's); layer 0 with its own.
    mux.acceptSsrc(1, 99);
    const packet = (payloadType: number, ssrc: number, timestamp: number) => {
      const p = Buffer.alloc(20);
      p[0] = 0x80;
      p[1] = 0x80 | payloadType;
      p.writeUInt32BE(timestamp, 4);
      p.writeUInt32BE(ssrc, 8);
      return p;
    };
    const reports = received(rtcp, 1);
    const forwarded = received(rtp, 1);
    // An RTX packet (another payload type), another sender's packet (another SSRC), the sender's own report: none goes on.
    sender.send(packet(103, 99, 5), mux.input(1).port, '127.0.0.1');
    sender.send(packet(102, 4242, 5), mux.input(1).port, '127.0.0.1');
    sender.send(packet(102, 2222, 5), mux.input(0).port, '127.0.0.1');
    sender.send(Buffer.from('a sender report'), mux.input(1).rtcpPort, '127.0.0.1');
    const sentAt = Date.now();
    sender.send(packet(102, 99, 900_000), mux.input(1).port, '127.0.0.1');
    const [rtpGot] = await forwarded;
    expect(rtpGot?.data.readUInt32BE(8)).toBe(2222);
    expect(rtpGot?.from.port).toBe(localPort);
    // The layer's first report follows its first packet: its RTP time maps to the wall clock of that packet's arrival.
    const [report] = await reports;
    if (!report) throw new Error('no report');
    expect(report.from.port).toBe(localPort + 1);
    expect(report.data[1]).toBe(200);
    expect(report.data.readUInt32BE(4)).toBe(2222);
    const wallMs = (report.data.readUInt32BE(8) - 2_208_988_800) * 1000 + (report.data.readUInt32BE(12) / 2 ** 32) * 1000;
    const arrivalMs = wallMs - ((report.data.readUInt32BE(16) - 900_000) / 90_000) * 1000;
    expect(Math.abs(arrivalMs - sentAt)).toBeLessThan(20);
    expect(report.data.readUInt32BE(20)).toBe(1); // one packet sent
    // A PLI (and a FIR) from the SFU for the top layer's SSRC; one for an SSRC it does not know is ignored.
    const pli = (ssrc: number) => {
      const p = Buffer.alloc(12);
      p[0] = 0x81;
      p[1] = 206;
      p.writeUInt16BE(2, 2);
      p.writeUInt32BE(ssrc, 8);
      return p;
    };
    const fir = Buffer.alloc(20);
    fir[0] = 0x84;
    fir[1] = 206;
    fir.writeUInt16BE(4, 2);
    fir.writeUInt32BE(2222, 12);
    sender.send(Buffer.concat([pli(7), pli(1111), fir]), localPort + 1, '127.0.0.1');
    await waitFor(() => requests.length === 2);
    expect(requests).toEqual([0, 1]);
  });

  it('close() frees the fixed ports (idempotently)', async () => {
    const localPort = await freeUdpPortPair();
    const mux = new LayerMux({ ip: '127.0.0.1', port: 9, rtcpPort: 9, localPort }, 2, logger);
    await mux.ready;
    mux.close();
    mux.close();
    const rebound = createSocket('udp4');
    // the close is done on the next turns of the loop: bind until it succeeds
    await new Promise<void>((resolve) => {
      const attempt = (): void => {
        rebound.once('error', () => setImmediate(attempt));
        rebound.bind(localPort, '127.0.0.1', () => resolve());
      };
      attempt();
    });
    rebound.close();
  });
});
