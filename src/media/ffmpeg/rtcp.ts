// The RTCP the server writes itself: sender reports for RTP it sends on (the RTMP bridge's paced Opus, the WebRTC
// ladder's layers), on the wall clock.

/** Wall-clock time in ms (with a fraction), the clock RTCP sender reports carry. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();

/** Seconds from the NTP epoch (1900) to the Unix one. */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const RTCP_SR = 200;

export interface SenderReport {
  ssrc: number;
  /** The wall-clock time (ms) the report maps `rtpTimestamp` to. */
  wallMs: number;
  rtpTimestamp: number;
  packets: number;
  octets: number;
}

/** An RTCP sender report without report blocks (RFC 3550 §6.4.1). */
export function senderReport(report: SenderReport): Buffer {
  const wall = report.wallMs / 1000 + NTP_UNIX_OFFSET_S;
  const seconds = Math.floor(wall);
  const packet = Buffer.alloc(28);
  packet[0] = 0x80;
  packet[1] = RTCP_SR;
  packet.writeUInt16BE(6, 2);
  packet.writeUInt32BE(report.ssrc >>> 0, 4);
  packet.writeUInt32BE(seconds >>> 0, 8);
  packet.writeUInt32BE(Math.min(0xffffffff, Math.floor((wall - seconds) * 2 ** 32)), 12);
  packet.writeUInt32BE(report.rtpTimestamp >>> 0, 16);
  packet.writeUInt32BE(report.packets >>> 0, 20);
  packet.writeUInt32BE(report.octets >>> 0, 24);
  return packet;
}
