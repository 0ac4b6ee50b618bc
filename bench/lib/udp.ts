// Hooks on every UDP socket this process creates (werift's included), for the fan-out viewer processes:
//  - a larger kernel receive buffer, so that a moment without CPU (2 cores, shared with the server and the
//    encoder) does not drop datagrams that the server sent in time (the kernel caps it at net.core.rmem_max);
//  - "light" viewers: RTP datagrams of registered SSRCs are handed to a counter before werift sees them. SRTP
//    leaves the RTP header in the clear, so sequence numbers, marker bits and sizes can be counted without
//    decrypting; werift still does ICE (and answers consent checks), DTLS and RTCP, at a fraction of the CPU.
import dgram from 'node:dgram';
import { syncBuiltinESMExports } from 'node:module';

type Sink = (datagram: Buffer) => void;
const sinks = new Map<number, Sink>();
let installed = false;

export function installUdpHooks(options: { recvBufferBytes: number }): void {
  if (installed) return;
  installed = true;
  const original = dgram.createSocket;
  const patched = (typeOrOptions: dgram.SocketType | dgram.SocketOptions, callback?: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): dgram.Socket => {
    const base: dgram.SocketOptions = typeof typeOrOptions === 'string' ? { type: typeOrOptions } : typeOrOptions;
    const socket = original(options.recvBufferBytes > 0 ? { recvBufferSize: options.recvBufferBytes, ...base } : base, callback);
    const target = socket as unknown as { emit: (event: string | symbol, ...args: unknown[]) => boolean };
    const emit = target.emit.bind(socket);
    target.emit = (event, ...args) => {
      if (event === 'message' && sinks.size > 0 && divert(args[0] as Buffer)) return true;
      return emit(event, ...args);
    };
    return socket;
  };
  dgram.createSocket = patched as typeof dgram.createSocket;
  // werift imports createSocket by name (ESM): push the new function into the builtin's named exports.
  syncBuiltinESMExports();
}

/** RTP (not RTCP, RFC 5761) of a registered SSRC: counted here, never seen by werift. */
function divert(datagram: Buffer): boolean {
  if (datagram.length < 12) return false;
  const b0 = datagram[0] as number;
  if (b0 < 128 || b0 > 191) return false; // STUN 0-3, DTLS 20-63
  const pt = (datagram[1] as number) & 0x7f;
  if (pt >= 64 && pt <= 95) return false; // RTCP
  const sink = sinks.get(datagram.readUInt32BE(8));
  if (!sink) return false;
  sink(datagram);
  return true;
}

export function divertRtp(ssrc: number, sink: Sink): void {
  if (!installed) throw new Error('installUdpHooks() first');
  sinks.set(ssrc, sink);
}

export function stopDiverting(ssrc: number): void {
  sinks.delete(ssrc);
}

/** The media SSRCs an SDP announces per kind (a=ssrc lines, without the RTX ones of FID groups). */
export function ssrcsByKind(sdp: string): { audio: number[]; video: number[] } {
  const out = { audio: [] as number[], video: [] as number[] };
  for (const section of sdp.split(/\r?\n(?=m=)/)) {
    const kind = /^m=(audio|video)/.exec(section)?.[1] as 'audio' | 'video' | undefined;
    if (!kind) continue;
    const rtx = new Set([...section.matchAll(/^a=ssrc-group:FID \d+ (\d+)/gm)].map((m) => Number(m[1])));
    for (const [, ssrc] of section.matchAll(/^a=ssrc:(\d+) /gm)) {
      const id = Number(ssrc);
      if (!rtx.has(id) && !out[kind].includes(id)) out[kind].push(id);
    }
  }
  return out;
}
