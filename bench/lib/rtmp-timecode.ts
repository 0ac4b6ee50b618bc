// Wall-clock time codes burnt into raw video, for glass-to-glass latency through a real encoder and decoder.
//
// Each yuv420p frame carries, in one band near the top, 80 blocks of 32×32 luma (two rows of 40), each black (16)
// or white (235): the capture time (48 bits of ms since the epoch), a 16-bit frame counter and a CRC-16 over both.
// Blocks that large, at full contrast and aligned to macroblocks, survive x264 at any sane bitrate; the reader
// averages a 16×16 window in each block's centre and thresholds at mid-grey. The rest of the picture is a
// scrolling texture, so that the encoder (and a re-encoding bridge) has real work to do.

import { importWebDemo } from '../../test/helpers/web-demo.js';

export const WIDTH = 1280;
export const HEIGHT = 720;
export const FPS = 30;

const BLOCK = 32;
const PER_ROW = WIDTH / BLOCK; // 40
const ROWS = 2;
const BITS = PER_ROW * ROWS; // 80 = 48 time + 16 counter + 16 CRC
/** First luma row of the band (a multiple of 16: macroblock-aligned). */
export const BAND_Y = 64;
export const BAND_HEIGHT = BLOCK * ROWS;
/** Bytes of one decoded band in gray (one byte a pixel), as the decoder crops it. */
export const BAND_BYTES = WIDTH * BAND_HEIGHT;
export const FRAME_BYTES = (WIDTH * HEIGHT * 3) / 2;

const BLACK = 16;
const WHITE = 235;
const SCROLL_PX = 3;

export interface TimeCode {
  /** Date.now() when the frame was handed to the encoder. */
  timeMs: number;
  /** Frame number modulo 65536. */
  counter: number;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function payload(code: TimeCode): Uint8Array {
  const bytes = new Uint8Array(8);
  let t = Math.floor(code.timeMs);
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256;
    t = Math.floor(t / 256);
  }
  bytes[6] = (code.counter >> 8) & 0xff;
  bytes[7] = code.counter & 0xff;
  return bytes;
}

function toBits(code: TimeCode): number[] {
  const bytes = payload(code);
  const crc = crc16(bytes);
  const all = [...bytes, crc >> 8, crc & 0xff];
  const bits: number[] = [];
  for (const byte of all) for (let i = 7; i >= 0; i--) bits.push((byte >> i) & 1);
  return bits;
}

/** Writes the time code into a yuv420p frame (luma blocks, neutral chroma under the band). */
export function stamp(frame: Buffer, code: TimeCode): void {
  const bits = toBits(code);
  for (let k = 0; k < BITS; k++) {
    const value = bits[k] ? WHITE : BLACK;
    const x0 = (k % PER_ROW) * BLOCK;
    const y0 = BAND_Y + Math.floor(k / PER_ROW) * BLOCK;
    for (let y = y0; y < y0 + BLOCK; y++) frame.fill(value, y * WIDTH + x0, y * WIDTH + x0 + BLOCK);
  }
  const chromaWidth = WIDTH / 2;
  const lumaBytes = WIDTH * HEIGHT;
  for (const plane of [lumaBytes, lumaBytes + lumaBytes / 4]) {
    frame.fill(128, plane + (BAND_Y / 2) * chromaWidth, plane + ((BAND_Y + BAND_HEIGHT) / 2) * chromaWidth);
  }
}

/** web-demo/timecode.js, the pages' own. */
const browserTimecode = await importWebDemo<typeof import('../../web-demo/timecode.js')>('timecode.js');

/**
 * Also writes the pages' time code (web-demo/timecode.js: the band of cells along the bottom of the frame, the
 * calibrator's pattern) into a yuv420p frame, so that a browser player reads it with the same code as for a
 * calibrator published from a browser (bench:latency --path rtmp).
 */
export function stampBrowserBand(frame: Buffer, timeMs: number): void {
  const lumaBytes = WIDTH * HEIGHT;
  for (const cell of browserTimecode.timecodeCells(WIDTH, HEIGHT, timeMs)) {
    const value = cell.white ? WHITE : BLACK;
    for (let y = cell.y; y < cell.y + cell.h; y++) frame.fill(value, y * WIDTH + cell.x, y * WIDTH + cell.x + cell.w);
  }
  const top = HEIGHT - Math.round(HEIGHT * browserTimecode.BAND_FRACTION);
  const chromaWidth = WIDTH / 2;
  for (const plane of [lumaBytes, lumaBytes + lumaBytes / 4]) frame.fill(128, plane + Math.floor(top / 2) * chromaWidth, plane + (HEIGHT / 2) * chromaWidth);
}

/** Reads a time code back from the decoded band (gray, WIDTH × BAND_HEIGHT); undefined when the CRC fails. */
export function readBand(band: Buffer): TimeCode | undefined {
  if (band.length < BAND_BYTES) return undefined;
  const bits: number[] = [];
  for (let k = 0; k < BITS; k++) {
    const x0 = (k % PER_ROW) * BLOCK + BLOCK / 4;
    const y0 = Math.floor(k / PER_ROW) * BLOCK + BLOCK / 4;
    let sum = 0;
    for (let y = y0; y < y0 + BLOCK / 2; y++) for (let x = x0; x < x0 + BLOCK / 2; x++) sum += band[y * WIDTH + x] as number;
    bits.push(sum / (BLOCK / 2) ** 2 > 127 ? 1 : 0);
  }
  const bytes = new Uint8Array(10);
  for (let i = 0; i < 10; i++) {
    let byte = 0;
    for (let j = 0; j < 8; j++) byte = (byte << 1) | (bits[i * 8 + j] as number);
    bytes[i] = byte;
  }
  const data = bytes.subarray(0, 8);
  if (crc16(data) !== (((bytes[8] as number) << 8) | (bytes[9] as number))) return undefined;
  let timeMs = 0;
  for (let i = 0; i < 6; i++) timeMs = timeMs * 256 + (data[i] as number);
  return { timeMs, counter: ((data[6] as number) << 8) | (data[7] as number) };
}

/** Renders the moving background of frame n: a random block texture scrolling sideways, in luma and chroma. */
export class Background {
  private readonly luma: Buffer;
  private readonly chroma: [Buffer, Buffer];

  constructor(seed = 1) {
    let state = seed >>> 0 || 1;
    const random = () => {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state / 0x100000000;
    };
    // Twice as wide as the picture: frame n copies a window starting at (n × SCROLL_PX) mod WIDTH.
    this.luma = texture(WIDTH * 2, HEIGHT, 16, () => 40 + Math.floor(random() * 160), (x, y, v) => v + ((x + y) % 32) - 16);
    this.chroma = [
      texture(WIDTH, HEIGHT / 2, 8, () => 90 + Math.floor(random() * 76)),
      texture(WIDTH, HEIGHT / 2, 8, () => 90 + Math.floor(random() * 76)),
    ];
  }

  render(frame: Buffer, n: number): void {
    const offset = (n * SCROLL_PX) % WIDTH;
    for (let y = 0; y < HEIGHT; y++) this.luma.copy(frame, y * WIDTH, y * WIDTH * 2 + offset, y * WIDTH * 2 + offset + WIDTH);
    const cw = WIDTH / 2;
    const co = Math.floor(offset / 2);
    let plane = WIDTH * HEIGHT;
    for (const chroma of this.chroma) {
      for (let y = 0; y < HEIGHT / 2; y++) chroma.copy(frame, plane + y * cw, y * WIDTH + co, y * WIDTH + co + cw);
      plane += (WIDTH * HEIGHT) / 4;
    }
  }
}

/** A width × height plane of flat cells (cell × cell) with random values, plus an optional per-pixel tweak. */
function texture(width: number, height: number, cell: number, value: () => number, tweak?: (x: number, y: number, v: number) => number): Buffer {
  const plane = Buffer.alloc(width * height);
  const cellsX = Math.ceil(width / cell);
  const values = Array.from({ length: cellsX * Math.ceil(height / cell) }, value);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = values[Math.floor(y / cell) * cellsX + Math.floor(x / cell)] as number;
      plane[y * width + x] = Math.max(0, Math.min(255, tweak ? tweak(x, y, v) : v));
    }
  }
  return plane;
}
