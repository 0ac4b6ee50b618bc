// PNG charts for the README (--chart): an SVG drawn here, rendered to PNG by Debian's Chromium (playwright-core),
// written next to the JSON results. Two kinds: latency histograms of several paths, and lines of y over x.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, type BenchBrowser } from './browser.js';
import { projectRoot } from './report.js';

const WIDTH = 900;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 60 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

export interface Histogram {
  label: string;
  values: number[];
}

export interface Line {
  label: string;
  points: { x: number; y: number }[];
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over `span`. */
function tickStep(span: number, count = 8): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw) || 1;
}

function frame(title: string, xLabel: string, yLabel: string, xMax: number, yMax: number, body: string, legend: string[]): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const axes: string[] = [];
  const xs = tickStep(xMax);
  for (let x = 0; x <= xMax + 1e-9; x += xs) {
    const px = MARGIN.left + (x / xMax) * plotW;
    axes.push(`<line x1="${px}" y1="${MARGIN.top + plotH}" x2="${px}" y2="${MARGIN.top + plotH + 5}" stroke="#333"/><text x="${px}" y="${MARGIN.top + plotH + 20}" text-anchor="middle">${Number(x.toFixed(3))}</text>`);
  }
  const ys = tickStep(yMax, 5);
  for (let y = 0; y <= yMax + 1e-9; y += ys) {
    const py = MARGIN.top + plotH - (y / yMax) * plotH;
    axes.push(`<line x1="${MARGIN.left}" y1="${py}" x2="${MARGIN.left + plotW}" y2="${py}" stroke="#ddd"/><text x="${MARGIN.left - 8}" y="${py + 4}" text-anchor="end">${Number(y.toFixed(3))}</text>`);
  }
  const legendItems = legend.map((l, i) => `<rect x="${MARGIN.left + 10}" y="${MARGIN.top + 8 + i * 18}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${MARGIN.left + 28}" y="${MARGIN.top + 18 + i * 18}">${escape(l)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>
${axes.join('\n')}
<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333"/>
<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333"/>
<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 15}" text-anchor="middle">${escape(xLabel)}</text>
<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>
${body}
${legendItems.join('\n')}
</svg>`;
}

/** Overlaid histograms (share of samples per bin, in %) of several sample sets, up to their common p99.5. */
export function histogramSvg(title: string, xLabel: string, sets: Histogram[], binWidth: number): string {
  const all = sets.flatMap((s) => s.values).sort((a, b) => a - b);
  const xMax = Math.max(binWidth, Math.ceil((all[Math.floor(all.length * 0.995)] ?? binWidth) / binWidth) * binWidth);
  const bins = Math.round(xMax / binWidth);
  const shares = sets.map((s) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of s.values) {
      const bin = Math.min(bins - 1, Math.max(0, Math.floor(v / binWidth)));
      counts[bin] = (counts[bin] ?? 0) + 1;
    }
    return counts.map((c) => (s.values.length ? (100 * c) / s.values.length : 0));
  });
  const yMax = Math.max(1, ...shares.flat()) * 1.1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const barW = plotW / bins / Math.max(1, sets.length);
  const bars = shares.flatMap((counts, i) =>
    counts.map((share, bin) => {
      const h = (share / yMax) * plotH;
      return `<rect x="${MARGIN.left + (bin / bins) * plotW + i * barW}" y="${MARGIN.top + plotH - h}" width="${Math.max(1, barW - 0.5)}" height="${h}" fill="${COLORS[i % COLORS.length]}" fill-opacity="0.85"/>`;
    }),
  );
  return frame(title, xLabel, '% of frames', xMax, yMax, bars.join('\n'), sets.map((s) => s.label));
}

/** Lines of y over x (e.g. CPU per viewer count), with a dot at each point. */
export function lineSvg(title: string, xLabel: string, yLabel: string, lines: Line[]): string {
  const points = lines.flatMap((l) => l.points);
  const xMax = Math.max(1, ...points.map((p) => p.x));
  const yMax = Math.max(1, ...points.map((p) => p.y)) * 1.1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const at = (p: { x: number; y: number }) => `${MARGIN.left + (p.x / xMax) * plotW},${MARGIN.top + plotH - (p.y / yMax) * plotH}`;
  const body = lines.map((l, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    const dots = l.points.map((p) => `<circle cx="${at(p).split(',')[0]}" cy="${at(p).split(',')[1]}" r="3.5" fill="${color}"/>`).join('');
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${l.points.map(at).join(' ')}"/>${dots}`;
  });
  return frame(title, xLabel, yLabel, xMax, yMax, body.join('\n'), lines.map((l) => l.label));
}

/** Renders the SVG to results/<name>-<stamp>.png and results/<name>-latest.png; `browser`: one already running. */
export async function writeChart(name: string, svg: string, browser?: BenchBrowser): Promise<string> {
  const dir = join(projectRoot(), 'results');
  await mkdir(dir, { recursive: true });
  const own = browser ? undefined : await launchChromium();
  const b = browser ?? own;
  if (!b) throw new Error('no browser');
  const { page, close } = await b.newPage();
  try {
    await page.setViewportSize({ width: WIDTH, height: HEIGHT });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = join(dir, `${name}-${stamp}.png`);
    const png = await page.locator('svg').screenshot({ path: file });
    await writeFile(join(dir, `${name}-latest.png`), png);
    return file;
  } finally {
    await close();
    await own?.close();
  }
}
