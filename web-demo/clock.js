// Clock offset to the server, NTP-style over HTTP (docs/architecture.md, "Measuring latency"): the calibrator stamps frames
// with the server's time and the player compares them with the server's time, so publisher and viewer may be
// different machines. A sample is {t0: client send, t1: server receive, t2: server send, t3: client receive}.

/** Offset (server − client) and round trip of one sample. */
export function sampleOffset({ t0, t1, t2, t3 }) {
  return { offsetMs: (t1 - t0 + (t2 - t3)) / 2, rttMs: t3 - t0 - (t2 - t1) };
}

/**
 * Estimates the offset (server − client, ms) from samples: the median offset of the lowest-RTT quarter of them
 * (at least one), whose delays are the least likely to be asymmetric. errorMs bounds the error: the true offset is
 * within ± half the round trip of a sample, so it is half the largest RTT among those used. Samples with a negative
 * round trip (clock steps) are ignored. undefined when no sample is usable.
 */
export function estimateOffset(samples) {
  const usable = samples.map(sampleOffset).filter((s) => Number.isFinite(s.offsetMs) && Number.isFinite(s.rttMs) && s.rttMs >= 0);
  if (usable.length === 0) return undefined;
  usable.sort((a, b) => a.rttMs - b.rttMs);
  const best = usable.slice(0, Math.max(1, Math.ceil(usable.length / 4)));
  const offsets = best.map((s) => s.offsetMs).sort((a, b) => a - b);
  const middle = offsets.length >> 1;
  const offsetMs = offsets.length % 2 ? offsets[middle] : (offsets[middle - 1] + offsets[middle]) / 2;
  return { offsetMs, errorMs: best[best.length - 1].rttMs / 2, rttMs: best[0].rttMs, samples: usable.length };
}

/** This machine's time in epoch ms, with sub-millisecond resolution where the platform has it. */
export function localNow() {
  return typeof performance !== 'undefined' && performance.timeOrigin ? performance.timeOrigin + performance.now() : Date.now();
}

/**
 * Exchanges n requests with the server's public GET {baseUrl}/time ({t1, t2}: its receive and send times) and
 * estimates the offset. Returns {offsetMs, errorMs, rttMs, samples, now()} where now() is the server's time as
 * estimated here; throws when no request succeeded.
 */
export async function syncClock(baseUrl = '', n = 8, { fetch: fetchFn = globalThis.fetch, now = localNow } = {}) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    try {
      const t0 = now();
      const response = await fetchFn(`${baseUrl}/time`, { cache: 'no-store' });
      const body = await response.json();
      const t3 = now();
      if (response.ok && Number.isFinite(body.t1) && Number.isFinite(body.t2)) samples.push({ t0, t1: body.t1, t2: body.t2, t3 });
    } catch {
      // a lost exchange is just one sample fewer
    }
  }
  const estimate = estimateOffset(samples);
  if (!estimate) throw new Error(`clock sync: no answer from ${baseUrl}/time`);
  return { ...estimate, now: () => now() + estimate.offsetMs };
}
