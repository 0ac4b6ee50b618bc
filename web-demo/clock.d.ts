// Types of clock.js for the TypeScript tests (the demo pages are plain JS modules).
export interface ClockSample {
  t0: number;
  t1: number;
  t2: number;
  t3: number;
}
export interface OffsetEstimate {
  offsetMs: number;
  errorMs: number;
  rttMs: number;
  samples: number;
}
export declare function sampleOffset(sample: ClockSample): { offsetMs: number; rttMs: number };
export declare function estimateOffset(samples: ClockSample[]): OffsetEstimate | undefined;
export declare function localNow(): number;
export declare function syncClock(
  baseUrl?: string,
  n?: number,
  options?: { fetch?: typeof fetch; now?: () => number },
): Promise<OffsetEstimate & { now(): number }>;
