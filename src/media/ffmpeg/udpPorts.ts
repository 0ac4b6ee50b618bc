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

export async function freeUdpPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bindUdp(0);
    if (!first) continue;
    const second = first.port < 65535 ? await bindUdp(first.port + 1) : undefined;
    await first.close();
    await second?.close();
    if (second) return first.port;
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
