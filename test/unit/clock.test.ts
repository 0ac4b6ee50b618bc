// The clock-offset estimator of the demo pages (web-demo/clock.js): NTP-style samples with symmetric,
// asymmetric and outlier delays, and syncClock against a fake /time.
import { describe, expect, it } from 'vitest';
import { estimateOffset, sampleOffset, syncClock, type ClockSample } from '../../web-demo/clock.js';

const OFFSET = 12_345.6; // server clock − client clock

/** A sample sent at client time t0, `up` ms to the server, `hold` ms there, `down` ms back. */
function sample(t0: number, up: number, down: number, hold = 0.2, offset = OFFSET): ClockSample {
  const t1 = t0 + up + offset;
  return { t0, t1, t2: t1 + hold, t3: t0 + up + hold + down };
}

describe('clock offset estimate', () => {
  it('one symmetric sample: exact offset, error half the RTT', () => {
    const one = sampleOffset(sample(1000, 5, 5));
    expect(one.offsetMs).toBeCloseTo(OFFSET, 6);
    expect(one.rttMs).toBeCloseTo(10, 6);
    const estimate = estimateOffset([sample(1000, 5, 5)]);
    expect(estimate?.offsetMs).toBeCloseTo(OFFSET, 6);
    expect(estimate?.errorMs).toBeCloseTo(5, 6);
  });

  it('asymmetric delays: the error stays within the stated bound', () => {
    // all up-link heavy: offset is biased by (up − down)/2, which the error (RTT/2) covers
    const samples = [sample(0, 9, 1), sample(100, 8, 2), sample(200, 10, 2), sample(300, 7, 1)];
    const estimate = estimateOffset(samples);
    expect(estimate).toBeDefined();
    expect(Math.abs((estimate?.offsetMs ?? 0) - OFFSET)).toBeLessThanOrEqual(estimate?.errorMs ?? 0);
    expect(estimate?.errorMs).toBeLessThanOrEqual(5);
  });

  it('outliers (queued requests, one-way spikes) do not move the estimate: lowest-RTT samples win', () => {
    const samples: ClockSample[] = [];
    for (let i = 0; i < 16; i++) samples.push(sample(i * 50, 2 + (i % 3) * 0.1, 2 + (i % 2) * 0.1));
    samples.push(sample(900, 400, 2), sample(950, 2, 600), sample(1000, 150, 150), sample(1050, 1000, 3));
    const estimate = estimateOffset(samples);
    expect(Math.abs((estimate?.offsetMs ?? 0) - OFFSET)).toBeLessThan(0.2);
    expect(estimate?.errorMs).toBeLessThan(2.5);
    expect(estimate?.samples).toBe(20);
    // the naive mean of all the samples' offsets is far off
    const mean = samples.map((s) => sampleOffset(s).offsetMs).reduce((a, b) => a + b, 0) / samples.length;
    expect(Math.abs(mean - OFFSET)).toBeGreaterThan(10);
  });

  it('negative offsets, unusable samples and no samples', () => {
    expect(estimateOffset([sample(0, 3, 3, 0, -5000)])?.offsetMs).toBeCloseTo(-5000, 6);
    // a clock step during the exchange (t3 < t0) or NaN is ignored
    const broken = { t0: 100, t1: 50, t2: 51, t3: 90 };
    expect(estimateOffset([broken, { t0: NaN, t1: 1, t2: 1, t3: 2 }])).toBeUndefined();
    expect(estimateOffset([broken, sample(0, 1, 1)])?.offsetMs).toBeCloseTo(OFFSET, 6);
    expect(estimateOffset([])).toBeUndefined();
  });

  it('syncClock exchanges with /time and corrects its clock', async () => {
    let clientNow = 5_000;
    const delays = [[30, 1], [1, 1], [1.5, 1], [20, 20], [1, 1.2], [1, 60], [1.1, 1], [2, 2]];
    let i = 0;
    const urls: string[] = [];
    const fakeFetch = (url: string): Promise<Response> => {
      urls.push(url);
      const [up, down] = delays[i++ % delays.length] ?? [1, 1];
      clientNow += up ?? 1;
      const t1 = clientNow + OFFSET;
      const t2 = t1 + 0.1;
      clientNow += 0.1 + (down ?? 1);
      return Promise.resolve(new Response(JSON.stringify({ t1, t2 }), { headers: { 'content-type': 'application/json' } }));
    };
    const clock = await syncClock('http://server', 8, { fetch: fakeFetch as unknown as typeof fetch, now: () => clientNow });
    expect(urls).toHaveLength(8);
    expect(urls[0]).toBe('http://server/time');
    expect(Math.abs(clock.offsetMs - OFFSET)).toBeLessThanOrEqual(clock.errorMs);
    expect(clock.errorMs).toBeLessThan(1.2);
    expect(clock.now() - clientNow).toBeCloseTo(clock.offsetMs, 6);
    await expect(syncClock('http://down', 3, { fetch: () => Promise.reject(new Error('offline')) })).rejects.toThrow(/no answer/);
  });
});
