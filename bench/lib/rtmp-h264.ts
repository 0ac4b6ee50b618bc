// H264 access units for the latency bench, from either side of the server, into one decoder:
//  - RtpFrames: RTP as a WHEP viewer receives it (RFC 6184 single NAL / STAP-A / FU-A), one frame per RTP
//    timestamp, complete at the marker bit;
//  - FlvFrames: the encoder's own FLV (the no-server floor), AVCC → Annex B with SPS/PPS before key frames;
//  - FrameDecoder: a long-running `ffmpeg -f h264 -i pipe:0` that outputs the time-code band of every decoded
//    frame as gray bytes. Each access unit is followed by an access unit delimiter, so that ffmpeg's H264 parser
//    sees the frame end at once instead of when the next frame starts (one frame interval later).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { BAND_BYTES, BAND_HEIGHT, BAND_Y, HEIGHT, WIDTH } from './rtmp-timecode.js';

const START = Buffer.from([0, 0, 0, 1]);
/** Access unit delimiter (primary_pic_type 7: any slice type). */
const AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);

export interface AccessUnit {
  annexB: Buffer;
  /** Carries an IDR slice (NAL type 5). */
  idr: boolean;
}

function nalTypes(annexB: Buffer): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
      types.push((annexB[i + 3] as number) & 0x1f);
      i += 3;
    }
  }
  return types;
}

interface Piece {
  seq: number;
  payload: Buffer;
}

/** Reassembles H264 RTP into access units. Incomplete frames (a sequence gap) are dropped and counted. */
export class RtpFrames {
  private readonly pending = new Map<number, Piece[]>();
  private readonly done: number[] = [];
  incomplete = 0;
  frames = 0;

  constructor(private readonly onFrame: (unit: AccessUnit) => void) {}

  push(seq: number, timestamp: number, marker: boolean, payload: Buffer): void {
    if (this.done.includes(timestamp)) return; // a late retransmission of a frame already handed on
    let pieces = this.pending.get(timestamp);
    if (!pieces) this.pending.set(timestamp, (pieces = []));
    if (!pieces.some((p) => p.seq === seq)) pieces.push({ seq, payload });
    if (!marker) return;
    this.pending.delete(timestamp);
    // Frames still pending are older ones whose marker never came: they will not complete now.
    this.incomplete += this.pending.size;
    this.pending.clear();
    this.done.push(timestamp);
    if (this.done.length > 32) this.done.shift();
    const first = pieces[0]?.seq ?? 0;
    const ordered = pieces.sort((a, b) => ((a.seq - first + 98304) % 65536) - ((b.seq - first + 98304) % 65536));
    const unit = depacketize(ordered);
    if (!unit) {
      this.incomplete++;
      return;
    }
    this.frames++;
    this.onFrame(unit);
  }
}

function depacketize(pieces: Piece[]): AccessUnit | undefined {
  const chunks: Buffer[] = [];
  let inFragment = false;
  for (let i = 0; i < pieces.length; i++) {
    const { seq, payload } = pieces[i] as Piece;
    if (i > 0 && ((pieces[i - 1] as Piece).seq + 1) % 65536 !== seq) return undefined;
    if (payload.length < 1) continue;
    const type = (payload[0] as number) & 0x1f;
    if (type >= 1 && type <= 23) {
      chunks.push(START, payload);
    } else if (type === 24) {
      for (let offset = 1; offset + 2 <= payload.length; ) {
        const size = payload.readUInt16BE(offset);
        chunks.push(START, payload.subarray(offset + 2, offset + 2 + size));
        offset += 2 + size;
      }
    } else if (type === 28 && payload.length >= 2) {
      const header = payload[1] as number;
      if (header & 0x80) {
        chunks.push(START, Buffer.from([((payload[0] as number) & 0xe0) | (header & 0x1f)]));
        inFragment = true;
      } else if (!inFragment) {
        return undefined; // the fragment's start was lost
      }
      chunks.push(payload.subarray(2));
      if (header & 0x40) inFragment = false;
    }
  }
  if (chunks.length === 0) return undefined;
  const annexB = Buffer.concat(chunks);
  return { annexB, idr: nalTypes(annexB).includes(5) };
}

/** Demuxes an FLV byte stream (as ffmpeg's flv muxer writes it) into H264 access units; audio tags are skipped. */
export class FlvFrames {
  private buffer: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private lengthSize = 4;
  private parameterSets: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (unit: AccessUnit) => void) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.headerDone) {
      if (this.buffer.length < 13) return;
      const headerSize = this.buffer.readUInt32BE(5);
      this.buffer = this.buffer.subarray(headerSize + 4);
      this.headerDone = true;
    }
    while (this.buffer.length >= 11) {
      const size = this.buffer.readUIntBE(1, 3);
      if (this.buffer.length < 11 + size + 4) return;
      const type = (this.buffer[0] as number) & 0x1f;
      const data = this.buffer.subarray(11, 11 + size);
      this.buffer = this.buffer.subarray(11 + size + 4);
      if (type === 9 && data.length > 5 && ((data[0] as number) & 0x0f) === 7) this.video(data);
    }
  }

  private video(data: Buffer): void {
    const key = (data[0] as number) >> 4 === 1;
    const packetType = data[1];
    const body = data.subarray(5);
    if (packetType === 0) {
      this.readConfig(body);
      return;
    }
    if (packetType !== 1) return;
    const chunks: Buffer[] = [];
    let hasSps = false;
    for (let offset = 0; offset + this.lengthSize <= body.length; ) {
      const size = body.readUIntBE(offset, this.lengthSize);
      const nal = body.subarray(offset + this.lengthSize, offset + this.lengthSize + size);
      if (((nal[0] ?? 0) & 0x1f) === 7) hasSps = true;
      chunks.push(START, nal);
      offset += this.lengthSize + size;
    }
    if (key && !hasSps) chunks.unshift(this.parameterSets);
    const annexB = Buffer.concat(chunks);
    this.onFrame({ annexB, idr: nalTypes(annexB).includes(5) });
  }

  /** AVCDecoderConfigurationRecord: NAL length size, SPS and PPS. */
  private readConfig(config: Buffer): void {
    if (config.length < 7) return;
    this.lengthSize = ((config[4] as number) & 0x03) + 1;
    const sets: Buffer[] = [];
    let offset = 5;
    for (const count of ['sps', 'pps']) {
      const n = (config[offset] as number) & (count === 'sps' ? 0x1f : 0xff);
      offset++;
      for (let i = 0; i < n && offset + 2 <= config.length; i++) {
        const size = config.readUInt16BE(offset);
        sets.push(START, config.subarray(offset + 2, offset + 2 + size));
        offset += 2 + size;
      }
    }
    this.parameterSets = Buffer.concat(sets);
  }
}

export interface FrameDecoderOptions {
  /**
   * ffmpeg's input arguments, up to and including `-i`: by default H264 access units written to stdin (write()).
   * Another input (an HLS or RTMP URL: a player's own demuxer) replaces them; the band output stays the same.
   */
  input?: string[];
  /** The video is smaller than the generator's (a rendition): scaled back up before the band is read. */
  upscale?: boolean;
}

/** Decodes access units with ffmpeg (low-delay flags); calls back with each decoded frame's band and when it came out. */
export class FrameDecoder {
  private readonly child: ChildProcess;
  private readonly exited: Promise<unknown>;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stderr = '';
  private closing = false;
  decoded = 0;

  constructor(onFrame: (band: Buffer, atMs: number) => void, options: FrameDecoderOptions = {}) {
    const input = options.input ?? [
      // Not -fflags nobuffer: with it, the packets read while probing the stream (with -probesize 32, the first
      // access unit) are dropped instead of decoded. A decoder that starts at an IDR frame then shows nothing until
      // the next one, a GOP later (measured: +1 s to the first decoded frame). Probing reads one access unit, so
      // keeping it adds no delay; nobuffer has no effect after probing.
      '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
      '-f', 'h264', '-i', 'pipe:0',
    ];
    const args = [
      '-hide_banner', '-loglevel', 'error',
      ...input,
      // Only the time-code band leaves ffmpeg (80 KiB a frame instead of 900): less to move, less to wait for.
      '-vf', `${options.upscale ? `scale=${WIDTH}:${HEIGHT},` : ''}crop=${WIDTH}:${BAND_HEIGHT}:0:${BAND_Y}`, '-fps_mode', 'passthrough', '-an',
      // -threads 1 for the rawvideo *encoder*: it is frame-threaded in FFmpeg 5.1 and otherwise hands each frame
      // out only when the next one comes in (measured: +1 frame interval, and a lone IDR never comes out).
      '-pix_fmt', 'gray', '-threads', '1', '-f', 'rawvideo', '-flush_packets', '1', 'pipe:1',
    ];
    this.child = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = once(this.child, 'exit');
    this.child.stdin?.on('error', () => undefined); // EPIPE when ffmpeg is killed mid-write
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const at = Date.now();
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      while (this.pendingBytes >= BAND_BYTES) {
        const all = Buffer.concat(this.pending);
        const band = all.subarray(0, BAND_BYTES);
        const rest = all.subarray(BAND_BYTES);
        this.pending = rest.length > 0 ? [rest] : [];
        this.pendingBytes = rest.length;
        this.decoded++;
        onFrame(band, at);
      }
    });
    this.child.once('exit', (code, signal) => {
      if (!this.closing) console.error(`[decoder] ffmpeg exited (code ${code}, signal ${signal}): ${this.stderr.trim().slice(-500)}`);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Errors ffmpeg printed (concealment after a lost packet, ...), last 4000 characters. */
  get errors(): string {
    return this.stderr;
  }

  write(unit: AccessUnit): void {
    if (this.closing || !this.child.stdin?.writable) return;
    this.child.stdin.write(Buffer.concat([unit.annexB, AUD]));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
