// The latency time code (web-demo/timecode.js): what drawTimecode paints, readTimecode reads back, from the
// exact frame, from frames scaled down (nearest and bilinear), and from frames through a real H264 encoder at
// 500 kbit/s (ffmpeg, libx264, 4:2:0) decoded and scaled to 640×360.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { drawTimecode, readTimecode, timecodeBits, type RgbaImage, type TimecodeContext } from '../../web-demo/timecode.js';

/** A canvas stand-in: rasterises fillRect with a solid colour into RGBA; text is drawn as a few blocks. */
class RgbaCanvas implements TimecodeContext {
  readonly data: Uint8Array;
  fillStyle: unknown = '#000000';
  font = '';
  textAlign = '';
  textBaseline = '';
  constructor(
    readonly width: number,
    readonly height: number,
    target?: Uint8Array,
  ) {
    this.data = target ?? new Uint8Array(width * height * 4);
  }
  fillRect(x: number, y: number, w: number, h: number): void {
    const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(String(this.fillStyle));
    const [r, g, b] = hex ? [1, 2, 3].map((i) => parseInt(hex[i] ?? '0', 16)) : [0, 0, 0];
    for (let yy = Math.max(0, Math.round(y)); yy < Math.min(this.height, Math.round(y + h)); yy++) {
      for (let xx = Math.max(0, Math.round(x)); xx < Math.min(this.width, Math.round(x + w)); xx++) {
        const i = (yy * this.width + xx) * 4;
        this.data[i] = r ?? 0;
        this.data[i + 1] = g ?? 0;
        this.data[i + 2] = b ?? 0;
        this.data[i + 3] = 255;
      }
    }
  }
  /** Text as a row of blocks whose widths follow the characters: detail above the band, like the real clock. */
  fillText(text: string, x: number, y: number): void {
    const size = Number(/(\d+)px/.exec(this.font)?.[1] ?? 20);
    const left = x - (text.length * size * 0.6) / 2;
    [...text].forEach((c, i) => {
      if (c !== ':' && c !== '.') this.fillRect(left + i * size * 0.6, y - size / 2, size * 0.5 * ((c.charCodeAt(0) % 5) / 5 + 0.2), size);
    });
  }
  get image(): RgbaImage {
    return { data: this.data, width: this.width, height: this.height };
  }
}

/** A frame: a noisy moving background, then the time code (and clock text) on top. */
function renderFrame(width: number, height: number, ms: number, n: number, target?: Uint8Array): RgbaCanvas {
  const canvas = new RgbaCanvas(width, height, target);
  let state = (n + 1) * 2654435761;
  for (let i = 0; i < canvas.data.length; i += 4) {
    state = (state * 1103515245 + 12345) >>> 0;
    const x = (i / 4) % width;
    const v = ((x + n * 8) % 256) * 0.5 + (state >>> 25);
    canvas.data[i] = v;
    canvas.data[i + 1] = 255 - v;
    canvas.data[i + 2] = (v * 3) % 256;
    canvas.data[i + 3] = 255;
  }
  drawTimecode(canvas, width, height, ms, { label: 'clock error ±1.5 ms' });
  return canvas;
}

function scaleNearest(src: RgbaImage, width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(((y + 0.5) * src.height) / height);
    for (let x = 0; x < width; x++) {
      const sx = Math.floor(((x + 0.5) * src.width) / width);
      for (let c = 0; c < 4; c++) data[(y * width + x) * 4 + c] = src.data[(sy * src.width + sx) * 4 + c] ?? 0;
    }
  }
  return { data, width, height };
}

function scaleBilinear(src: RgbaImage, width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  const at = (x: number, y: number, c: number): number => src.data[(Math.min(src.height - 1, y) * src.width + Math.min(src.width - 1, x)) * 4 + c] ?? 0;
  for (let y = 0; y < height; y++) {
    const fy = Math.max(0, ((y + 0.5) * src.height) / height - 0.5);
    const y0 = Math.floor(fy);
    for (let x = 0; x < width; x++) {
      const fx = Math.max(0, ((x + 0.5) * src.width) / width - 0.5);
      const x0 = Math.floor(fx);
      for (let c = 0; c < 4; c++) {
        const top = at(x0, y0, c) * (1 - (fx - x0)) + at(x0 + 1, y0, c) * (fx - x0);
        const bottom = at(x0, y0 + 1, c) * (1 - (fx - x0)) + at(x0 + 1, y0 + 1, c) * (fx - x0);
        data[(y * width + x) * 4 + c] = Math.round(top * (1 - (fy - y0)) + bottom * (fy - y0));
      }
    }
  }
  return { data, width, height };
}

function run(command: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command} exited ${code}: ${err.slice(-2000)}`))));
    child.stdin.end(input);
  });
}

const T0 = 1_754_000_000_123; // an epoch time in ms, 2025

describe('time code', () => {
  it('carries 48 bits of time and a check', () => {
    expect(timecodeBits(T0)).toHaveLength(60);
    expect(() => timecodeBits(2 ** 48)).toThrow(RangeError);
    expect(() => timecodeBits(-1)).toThrow(RangeError);
  });

  it('round trip on the exact frame, for many times', () => {
    for (const ms of [0, 1, 999, 2 ** 32 + 7, T0, T0 + 1, T0 + 86_400_000 + 17, 2 ** 48 - 1]) {
      expect(readTimecode(renderFrame(1280, 720, ms, 0).image)).toBe(ms);
    }
    // other frame sizes, including odd ones
    expect(readTimecode(renderFrame(640, 360, T0, 1).image)).toBe(T0);
    expect(readTimecode(renderFrame(1920, 1080, T0, 2).image)).toBe(T0);
    expect(readTimecode(renderFrame(853, 479, T0, 3).image)).toBe(T0);
  });

  it('reads the band alone (a cropped bottom strip)', () => {
    const frame = renderFrame(1280, 720, T0, 0);
    const bandRows = 80;
    const band = { data: frame.data.subarray((720 - bandRows) * 1280 * 4), width: 1280, height: bandRows };
    expect(readTimecode(band, { bandOnly: true })).toBe(T0);
    expect(readTimecode(scaleBilinear(band, 320, 20), { bandOnly: true })).toBe(T0);
  });

  it('survives scaling to half size and smaller (nearest and bilinear)', () => {
    const frame = renderFrame(1280, 720, T0 + 42, 0).image;
    for (const [w, h] of [[640, 360], [320, 180], [427, 240]] as const) {
      expect(readTimecode(scaleNearest(frame, w, h)), `nearest ${w}x${h}`).toBe(T0 + 42);
      expect(readTimecode(scaleBilinear(frame, w, h)), `bilinear ${w}x${h}`).toBe(T0 + 42);
    }
  });

  it('garbage is not a time: no pattern, noise, flipped bits', () => {
    const width = 640;
    const height = 360;
    expect(readTimecode({ data: new Uint8Array(width * height * 4), width, height })).toBeUndefined(); // black
    expect(readTimecode({ data: new Uint8Array(width * height * 4).fill(255), width, height })).toBeUndefined(); // white
    let state = 7;
    let accepted = 0;
    for (let n = 0; n < 200; n++) {
      const canvas = renderFrame(width, height, T0, n);
      // random cells, with valid references: only the check can reject them
      for (let row = 0; row < 2; row++) {
        for (let column = 2; column < 32; column++) {
          state = (state * 1103515245 + 12345) >>> 0;
          canvas.fillStyle = state & 0x10000 ? '#ffffff' : '#000000';
          canvas.fillRect((column * width) / 32, height - 40 + row * 20, width / 32, 20);
        }
      }
      if (readTimecode(canvas.image) !== undefined) accepted++;
    }
    expect(accepted).toBeLessThanOrEqual(1); // 12-bit check: 1/4096 per frame
    // one flipped data bit is rejected
    const canvas = renderFrame(width, height, T0, 0);
    const bit = timecodeBits(T0)[5];
    canvas.fillStyle = bit ? '#000000' : '#ffffff';
    canvas.fillRect((7 * width) / 32, height - 40, width / 32, 20);
    expect(readTimecode(canvas.image)).toBeUndefined();
    // low contrast (no references) is rejected
    const flat = renderFrame(width, height, T0, 0);
    for (let i = 0; i < flat.data.length; i++) if (i % 4 !== 3) flat.data[i] = 100 + ((flat.data[i] ?? 0) >> 4);
    expect(readTimecode(flat.image)).toBeUndefined();
  });

  it('survives H264 at 500 kbit/s (libx264, yuv420p) decoded and scaled to 640×360: every frame', async () => {
    const width = 1280;
    const height = 720;
    const frames = 60;
    const frameBytes = width * height * 4;
    const raw = Buffer.alloc(frameBytes * frames);
    const times = Array.from({ length: frames }, (_, n) => T0 + Math.round((n * 1000) / 30) + (n % 7));
    times.forEach((ms, n) => renderFrame(width, height, ms, n, raw.subarray(n * frameBytes, (n + 1) * frameBytes)));
    const h264 = await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-r', '30', '-i', '-'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '500k', '-maxrate', '500k', '-bufsize', '250k', '-pix_fmt', 'yuv420p', '-g', '60', '-f', 'h264', '-'],
    ], raw);
    expect(h264.length).toBeLessThan(frames * 500_000); // really compressed: ~500 kbit/s, not raw
    const decoded = await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'h264', '-i', '-'],
      ...['-vf', 'scale=640:360:flags=bilinear', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-'],
    ], h264);
    const outBytes = 640 * 360 * 4;
    expect(decoded.length).toBe(outBytes * frames);
    const read = Array.from({ length: frames }, (_, n) => readTimecode({ data: decoded.subarray(n * outBytes, (n + 1) * outBytes), width: 640, height: 360 }));
    console.log(`H264 ${Math.round((h264.length * 8 * 30) / frames / 1000)} kbit/s: ${read.filter((ms, n) => ms === times[n]).length}/${frames} frames read`);
    expect(read).toEqual(times);
  });
});
