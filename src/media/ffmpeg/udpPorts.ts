// Local UDP ports for an FFmpeg bridge to send RTP (port) and RTCP (port + 1) from. They are fixed per publish so
// that a restarted FFmpeg is recognised by the SFU's PlainTransport, which only accepts its configured source.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

function bindUdp(port: number): Promise<{ port: number; close: () => Promise<void> } | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(undefined));
    socket.bind(port, '127.0.0.1', () => resolve({ port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) }));
  });
}

/**
 * Bridge ports come from below the kernel's ephemeral range (32768–60999 by default): a port chosen there and freed
 * until FFmpeg binds it (and again while a restarted FFmpeg starts) could be taken meanwhile by any socket bound to
 * port 0 (a browser's ICE candidates, another FFmpeg's output), and the bridge would fail to bind for good.
 */
const BRIDGE_PORTS = { from: 10000, to: 20000 };

export async function freeUdpPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = BRIDGE_PORTS.from + 2 * Math.floor((Math.random() * (BRIDGE_PORTS.to - BRIDGE_PORTS.from)) / 2);
    const first = await bindUdp(port);
    if (!first) continue;
    const second = await bindUdp(port + 1);
    await first.close();
    await second?.close();
    if (second) return port;
  }
  throw new Error('no free UDP port pair');
}

/** Binds a socket on loopback (port 0: any free one). */
export async function bindLoopback(socket: Socket, port: number): Promise<void> {
  socket.bind(port, '127.0.0.1');
  await once(socket, 'listening');
}

/** Closes sockets, bound or not (closing one that never bound throws). */
export function closeSockets(sockets: readonly Socket[]): void {
  for (const socket of sockets) {
    try {
      socket.close();
    } catch {
      // never bound
    }
  }
}
