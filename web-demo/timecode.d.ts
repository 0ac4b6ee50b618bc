// Types of timecode.js for the TypeScript tests (the demo pages are plain JS modules).
export declare const BAND_COLUMNS: number;
export declare const BAND_ROWS: number;
export declare const BAND_FRACTION: number;
export interface RgbaImage {
  data: Uint8ClampedArray | Uint8Array | Buffer;
  width: number;
  height: number;
}
export interface TimecodeCell {
  x: number;
  y: number;
  w: number;
  h: number;
  white: boolean;
}
/** The subset of CanvasRenderingContext2D drawTimecode uses. */
export interface TimecodeContext {
  fillStyle: unknown;
  font: string;
  textAlign: string;
  textBaseline: string;
  fillRect(x: number, y: number, w: number, h: number): void;
  fillText(text: string, x: number, y: number): void;
}
export interface DrawOptions {
  text?: boolean;
  label?: string;
  color?: string;
  timeZone?: string;
}
export declare function timecodeBits(ms: number): number[];
export declare function timecodeCells(width: number, height: number, ms: number): TimecodeCell[];
export declare function drawTimecode(ctx: TimecodeContext, width: number, height: number, ms: number, options?: DrawOptions): void;
export declare function formatClock(ms: number, timeZone?: string): string;
export declare function readTimecode(image: RgbaImage, options?: { bandOnly?: boolean }): number | undefined;
