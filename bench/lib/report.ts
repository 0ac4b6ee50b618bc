// Output of the benchmarks: aligned tables on stdout, JSON under results/ (a timestamped file and <name>-latest.json).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../test/helpers/web-demo.js';

export { projectRoot };

export async function writeResults(name: string, data: unknown): Promise<{ file: string; latest: string }> {
  const dir = join(projectRoot(), 'results');
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${name}-${stamp}.json`);
  const latest = join(dir, `${name}-latest.json`);
  const text = `${JSON.stringify(data, null, 2)}\n`;
  await writeFile(file, text);
  await writeFile(latest, text);
  return { file, latest };
}

export type Cell = string | number | undefined;

/** A latency distribution's figures (ms), absent when there were no samples. */
export interface Distribution {
  p50?: number;
  p95?: number;
  p99?: number;
  min?: number;
  max?: number;
  mean?: number;
}

/** Prints rows as an aligned table; numbers are right-aligned. */
export function printTable(headers: string[], rows: Cell[][]): void {
  const text = rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], numeric: boolean[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ');
  console.log(line(headers, headers.map(() => false)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  rows.forEach((r, k) => console.log(line(text[k] ?? [], r.map((c) => typeof c === 'number'))));
}

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Percentile by linear interpolation between closest ranks (p in 0..100). */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export interface Summary {
  n: number;
  min?: number;
  p50?: number;
  p95?: number;
  max?: number;
  mean?: number;
}

export function summarize(values: number[], digits = 1): Summary {
  if (values.length === 0) return { n: 0 };
  const r = (x: number | undefined) => (x === undefined ? undefined : round(x, digits));
  return {
    n: values.length,
    min: r(Math.min(...values)),
    p50: r(percentile(values, 50)),
    p95: r(percentile(values, 95)),
    max: r(Math.max(...values)),
    mean: r(values.reduce((a, b) => a + b, 0) / values.length),
  };
}

/** Least-squares line y = intercept + slope·x. */
export function linearFit(points: { x: number; y: number }[]): { slope: number; intercept: number; r2: number } | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
    syy += (p.y - my) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
