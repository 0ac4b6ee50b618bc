// Machine-readable time code drawn into video frames, to measure glass-to-glass latency (docs/architecture.md, "Measuring
// latency"). Pure functions, no dependencies: used by the calibrator and play pages and by the Node tests.
//
// The pattern is a band along the bottom of the frame (BAND_ROWS / 18 of its height, full width), a grid of
// BAND_ROWS × BAND_COLUMNS square cells of pure black or white. Each row starts with a white and a black reference
// cell (the reader's levels: its threshold is their midpoint) and the 60 other cells carry, most significant bit
// first, 48 bits of the time in ms and a 12-bit check (CRC-16/CCITT of the 6 time bytes, low 12 bits). At 1280×720
// a cell is 40 px square; scaled to 640×360 it is still 20 px: far above what 4:2:0 chroma subsampling, H264
// blocks at 500 kbit/s or bilinear scaling smear. Everything is read from the frame's proportions, so a frame
// read back at any size (the decoded video drawn to a small canvas) works as long as it is not cropped.

export const BAND_COLUMNS = 32;
export const BAND_ROWS = 2;
/** The band's share of the frame's height (40 px per row at 720). */
export const BAND_FRACTION = BAND_ROWS / 18;
const REFERENCES = 2; // per row: white, black
const TIME_BITS = 48;
const CHECK_BITS = 12;
const DATA_BITS = BAND_ROWS * (BAND_COLUMNS - REFERENCES);
const MIN_CONTRAST = 64; // white reference minus black reference, in luma

/** CRC-16/CCITT-FALSE of bytes. */
function crc16(bytes) {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The 6 big-endian bytes of a 48-bit integer (arithmetic, not bitwise: JS bit operators are 32-bit). */
function timeBytes(ms) {
  const bytes = [];
  let t = ms;
  for (let i = 0; i < 6; i++) {
    bytes.unshift(t % 256);
    t = Math.floor(t / 256);
  }
  return bytes;
}

/** The DATA_BITS bits of a time (an integer in [0, 2^48)): time then check, most significant first. */
export function timecodeBits(ms) {
  const t = Math.floor(ms);
  if (!Number.isFinite(t) || t < 0 || t >= 2 ** TIME_BITS) throw new RangeError(`time code out of range: ${ms}`);
  const bits = [];
  for (const byte of timeBytes(t)) for (let i = 7; i >= 0; i--) bits.push((byte >> i) & 1);
  const check = crc16(timeBytes(t)) & ((1 << CHECK_BITS) - 1);
  for (let i = CHECK_BITS - 1; i >= 0; i--) bits.push((check >> i) & 1);
  return bits;
}

/** The cells of the pattern for a width × height frame: {x, y, w, h, white} rectangles in pixels (integers). */
export function timecodeCells(width, height, ms) {
  const bits = timecodeBits(ms);
  const top = bandTop(height);
  const cells = [];
  let k = 0;
  for (let row = 0; row < BAND_ROWS; row++) {
    const y = Math.round(top + ((height - top) * row) / BAND_ROWS);
    const h = Math.round(top + ((height - top) * (row + 1)) / BAND_ROWS) - y;
    for (let column = 0; column < BAND_COLUMNS; column++) {
      const x = Math.round((width * column) / BAND_COLUMNS);
      const w = Math.round((width * (column + 1)) / BAND_COLUMNS) - x;
      const white = column === 0 ? true : column === 1 ? false : bits[k++] === 1;
      cells.push({ x, y, w, h, white });
    }
  }
  return cells;
}

function bandTop(height) {
  return Math.round(height * (1 - BAND_FRACTION));
}

/**
 * Draws the time code for `ms` (epoch ms) into a 2D context of a width × height frame: the band of cells at the
 * bottom, and a human-readable clock (HH:MM:SS.mmm, UTC unless `options.timeZone` says otherwise) above it.
 * `options.label`: a smaller line under the clock (e.g. the clock's estimated error). Uses only fillRect, fillText
 * and the fillStyle/font/textAlign/textBaseline properties.
 */
export function drawTimecode(ctx, width, height, ms, options = {}) {
  for (const cell of timecodeCells(width, height, ms)) {
    ctx.fillStyle = cell.white ? '#ffffff' : '#000000';
    ctx.fillRect(cell.x, cell.y, cell.w, cell.h);
  }
  if (options.text === false) return;
  const clockHeight = Math.round(height * 0.18);
  ctx.fillStyle = options.color ?? '#ffffff';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.font = `bold ${clockHeight}px ui-monospace, "DejaVu Sans Mono", monospace`;
  ctx.fillText(formatClock(ms, options.timeZone), width / 2, height * 0.42);
  if (options.label) {
    ctx.font = `${Math.round(height * 0.045)}px ui-monospace, "DejaVu Sans Mono", monospace`;
    ctx.fillText(options.label, width / 2, height * 0.62);
  }
}

/** HH:MM:SS.mmm of an epoch time (UTC, or the given IANA time zone). */
export function formatClock(ms, timeZone = 'UTC') {
  const date = new Date(Math.floor(ms));
  const hms = date.toLocaleTimeString('en-GB', { hour12: false, timeZone });
  return `${hms}.${String(date.getUTCMilliseconds()).padStart(3, '0')}`;
}

/** Mean luma (BT.601) of the middle half of a rectangle of an RGBA image. */
function meanLuma(image, x0, y0, x1, y1) {
  const { data, width } = image;
  const cx0 = Math.floor(x0 + (x1 - x0) / 4);
  const cx1 = Math.max(cx0 + 1, Math.ceil(x1 - (x1 - x0) / 4));
  const cy0 = Math.floor(y0 + (y1 - y0) / 4);
  const cy1 = Math.max(cy0 + 1, Math.ceil(y1 - (y1 - y0) / 4));
  let sum = 0;
  let n = 0;
  for (let y = cy0; y < cy1; y++) {
    for (let x = cx0; x < cx1; x++) {
      const i = (y * width + x) * 4;
      sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      n++;
    }
  }
  return sum / n;
}

/**
 * Reads the time code of an RGBA image (an ImageData, or {data, width, height}): the time in ms, or undefined
 * when the frame carries no (readable) pattern. `options.bandOnly`: the image is the band alone (the bottom
 * BAND_FRACTION of a frame, e.g. cropped by drawImage), not the whole frame.
 */
export function readTimecode(image, options = {}) {
  const { width, height } = image;
  if (!width || !height || image.data.length < width * height * 4) return undefined;
  const top = options.bandOnly ? 0 : height * (1 - BAND_FRACTION);
  const rowHeight = (height - top) / BAND_ROWS;
  const cellWidth = width / BAND_COLUMNS;
  if (rowHeight < 2 || cellWidth < 2) return undefined;
  const bits = [];
  for (let row = 0; row < BAND_ROWS; row++) {
    const y0 = top + row * rowHeight;
    const cell = (column) => meanLuma(image, column * cellWidth, y0, (column + 1) * cellWidth, y0 + rowHeight);
    const white = cell(0);
    const black = cell(1);
    if (white - black < MIN_CONTRAST) return undefined;
    const threshold = (white + black) / 2;
    for (let column = REFERENCES; column < BAND_COLUMNS; column++) bits.push(cell(column) > threshold ? 1 : 0);
  }
  let ms = 0;
  for (let i = 0; i < TIME_BITS; i++) ms = ms * 2 + bits[i];
  let check = 0;
  for (let i = TIME_BITS; i < DATA_BITS; i++) check = check * 2 + bits[i];
  if ((crc16(timeBytes(ms)) & ((1 << CHECK_BITS) - 1)) !== check) return undefined;
  return ms;
}
