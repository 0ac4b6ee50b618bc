// Receiver-side RTP accounting: loss from sequence numbers (retransmissions counted once), frames from marker
// bits, and H264 key-frame detection.

/** Packets expected vs received for one SSRC over a measurement window. */
export interface StreamWindow {
  /** Sequence numbers the sender used in the window (highest - first + 1). */
  expected: number;
  /** Distinct sequence numbers that arrived (a retransmission that fills a gap counts; a duplicate does not). */
  received: number;
  /** Packets that arrived again (NACK retransmissions of packets already received, or network duplicates). */
  duplicates: number;
  /** RTP packets with the marker bit (for video: one per frame). */
  frames: number;
  bytes: number;
}

const RING = 4096;

/** Follows one SSRC. Call `packet()` for every RTP packet, `startWindow()`/`endWindow()` around a measurement. */
export class SequenceTracker {
  private highest = -1;
  /** ring[ext % RING] = ext + 1 when that extended sequence number has been seen. */
  private readonly ring = new Int32Array(RING);
  private windowFirst = -1;
  private received = 0;
  private duplicates = 0;
  private frames = 0;
  private bytes = 0;
  private total = 0;
  // Since the first packet, for receiver reports.
  private firstExt = -1;
  private uniqueTotal = 0;
  private lastReport = { expected: 0, received: 0 };

  get packets(): number {
    return this.total;
  }

  packet(sequenceNumber: number, marker: boolean, size: number): void {
    this.total++;
    let ext: number;
    if (this.highest < 0) {
      ext = sequenceNumber + 65536;
      this.highest = ext;
      this.firstExt = ext;
    } else {
      // Nearest extended value to `highest` with these low 16 bits.
      const base = this.highest & ~0xffff;
      ext = base | sequenceNumber;
      if (ext - this.highest > 32768) ext -= 65536;
      else if (this.highest - ext > 32768) ext += 65536;
      if (ext > this.highest) this.highest = ext;
    }
    const slot = ext % RING;
    const fresh = this.ring[slot] !== ext + 1;
    this.ring[slot] = ext + 1;
    if (fresh && ext >= this.firstExt) this.uniqueTotal++;
    if (this.windowFirst < 0 || ext < this.windowFirst) return;
    this.bytes += size;
    if (!fresh) {
      this.duplicates++;
      return;
    }
    this.received++;
    if (marker) this.frames++;
  }

  /** RFC 3550 receiver-report fields since the first packet (fraction lost: since the previous call). */
  receiverReport(): { highestSequence: number; packetsLost: number; fractionLost: number } | undefined {
    if (this.highest < 0) return undefined;
    const expected = this.highest - this.firstExt + 1;
    const received = Math.min(this.uniqueTotal, expected);
    const intervalExpected = expected - this.lastReport.expected;
    const intervalLost = intervalExpected - (received - this.lastReport.received);
    this.lastReport = { expected, received };
    return {
      highestSequence: this.highest - 65536,
      packetsLost: Math.min(expected - received, 0x7fffff),
      fractionLost: intervalExpected > 0 && intervalLost > 0 ? Math.min(255, Math.floor((intervalLost * 256) / intervalExpected)) : 0,
    };
  }

  startWindow(): void {
    this.windowFirst = this.highest < 0 ? 0 : this.highest + 1;
    this.received = this.duplicates = this.frames = this.bytes = 0;
  }

  endWindow(): StreamWindow {
    const expected = this.windowFirst >= 0 && this.highest >= this.windowFirst ? this.highest - this.windowFirst + 1 : 0;
    const result = { expected, received: Math.min(this.received, expected), duplicates: this.duplicates, frames: this.frames, bytes: this.bytes };
    this.windowFirst = -1;
    return result;
  }
}

/** NAL unit types an H264 RTP payload carries (RFC 6184: single NAL, STAP-A, FU-A start). */
export function h264NalTypes(payload: Buffer): number[] {
  if (payload.length < 1) return [];
  const type = (payload[0] as number) & 0x1f;
  if (type >= 1 && type <= 23) return [type];
  if (type === 24) {
    const types: number[] = [];
    let offset = 1;
    while (offset + 2 < payload.length) {
      const size = payload.readUInt16BE(offset);
      if (offset + 2 >= payload.length) break;
      types.push((payload[offset + 2] as number) & 0x1f);
      offset += 2 + size;
    }
    return types;
  }
  if (type === 28 && payload.length >= 2) {
    const header = payload[1] as number;
    return header & 0x80 ? [header & 0x1f] : [];
  }
  return [];
}

/** True for a packet that starts (or carries) an IDR picture or its SPS: the first packet of a key frame. */
export function isH264KeyFrameStart(payload: Buffer): boolean {
  return h264NalTypes(payload).some((t) => t === 5 || t === 7);
}
