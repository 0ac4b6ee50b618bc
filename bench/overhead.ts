// bench:overhead — what signed URLs and metrics collection cost (issue 5): "Overhead of signature checking per
// request and of metrics collection at 100 viewers, with the command used."
//
// 1. Signed URLs.
//    a) verifyAuthKey() in a tight loop (batches of calls; µs per call, p50/p95 over batches): a valid key (two MD5
//       + two constant-time compares + expiry), a bad hash (same work, refused), a malformed key (regex only).
//    b) End to end: WHEP POST → 201 answer, sequentially, alternating (order rotated every round) between two
//       domains of the same server: open.bench (no key) and signed.bench (primaryKey: each request carries a fresh
//       valid auth_key), plus signed.bench with a bad hash (→ 403). Offers are real werift recvonly offers (made
//       once, reused); each session is DELETEd at once (not timed). Loopback, keep-alive HTTP, Host header picks
//       the domain. No viewer is connected yet, so the machine is quiet.
// 2. Metrics collection at N viewers (default 100): one ~1.5 Mbit/s 720p30 stream (published as bench:fanout does,
//    from a child process) and N light werift WHEP viewers (bench/lib/viewer-pool.ts, child processes, nice 10).
//    Windows of equal length, in turn: idle, GET /metrics every --interval-ms, idle, GET /api/streams every
//    --interval-ms, idle. The scraper is a separate Node process, so the server process's CPU (process.cpuUsage)
//    is the server's. Reported per window: scrape duration p50/p95 (client side), response size, server (Node)
//    CPU, mediasoup worker CPU (the stats are gathered from the worker), the server's event-loop delay, and the
//    viewers' loss; per scrape: the CPU above the mean of the idle windows.
//
//   node dist/bench/overhead.js                          (defaults: 100 viewers, 30 s windows, 1 scrape/s)
//   node dist/bench/overhead.js --viewers 50 --window-seconds 20 --requests 100
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { resolveConfig } from '../src/config/config.js';
import { signAuthKey, verifyAuthKey } from '../src/access/signedUrl.js';
import { startServer } from '../src/server.js';
import { intFlag, numberFlag, parseFlags, runBench } from './lib/cli.js';
import { machineBusyPercent, machineCpu, machineInfo, processRssBytes, type MachineCpu } from './lib/proc.js';
import { percentile, printTable, round, summarize, writeResults, type Cell, type Summary } from './lib/report.js';
import { freePortRange, sleep, waitFor, type WhipcastServer } from './lib/server.js';
import { cleanupRig, stopRigOnSignals } from './lib/rig.js';
import { BenchChild, ViewerPool } from './lib/viewer-pool.js';
import { DEFAULT_ENCODER, opus, peer, h264, type Feedback } from './lib/webrtc.js';

const flags = parseFlags(
  {
    viewers: { type: 'string', default: '100', help: 'WHEP viewers during the metrics windows' },
    'window-seconds': { type: 'string', default: '30', help: 'length of each metrics window (idle / scraping)' },
    'interval-ms': { type: 'string', default: '1000', help: 'time between two scrapes in a scraping window' },
    'warmup-seconds': { type: 'string', default: '5', help: 'wait after the viewers have joined' },
    requests: { type: 'string', default: '200', help: 'WHEP POSTs per variant (open / signed / bad key) in the end-to-end test' },
    offers: { type: 'string', default: '8', help: 'distinct werift offers the end-to-end test cycles through' },
    'verify-batches': { type: 'string', default: '40', help: 'batches of verifyAuthKey calls per case' },
    'verify-batch-size': { type: 'string', default: '5000', help: 'verifyAuthKey calls per batch' },
    'viewers-per-process': { type: 'string', default: '25', help: 'werift viewers hosted by one child process' },
    'viewer-nice': { type: 'string', default: '10', help: 'niceness of the viewer processes' },
    'log-level': { type: 'string', default: 'warn', help: 'server log level' },
  },
  'Usage: node dist/bench/overhead.js [options]',
);

const viewerCount = intFlag('viewers', flags.viewers, 0);
const windowSeconds = numberFlag('window-seconds', flags['window-seconds'], 1);
const intervalMs = intFlag('interval-ms', flags['interval-ms'], 10);
const warmupSeconds = numberFlag('warmup-seconds', flags['warmup-seconds'], 0);
const requestsPerVariant = intFlag('requests', flags.requests, 1);
const offerCount = intFlag('offers', flags.offers, 1);
const verifyBatches = intFlag('verify-batches', flags['verify-batches'], 3);
const verifyBatchSize = intFlag('verify-batch-size', flags['verify-batch-size'], 1);
const perProcess = intFlag('viewers-per-process', flags['viewers-per-process'], 1);
const viewerNice = intFlag('viewer-nice', flags['viewer-nice'], 0);

const APP = 'bench';
const NAME = 'overhead';
const SIGNED_PATH = `/${APP}/${NAME}`;
const KEY = 'bench-primary-key';
const OPEN_HOST = 'open.bench';
const SIGNED_HOST = 'signed.bench';
/** As bench:fanout's viewers: PLI/FIR only (werift's NACK and transport-cc feedback load the viewer processes). */
const FEEDBACK: Feedback = { nack: false, twcc: false };
const scrapesPerWindow = Math.max(1, Math.floor((windowSeconds * 1000) / intervalMs));

let server: WhipcastServer | undefined;
let publisherChild: BenchChild | undefined;
let encoderPid: number | undefined;
let pool: ViewerPool | undefined;

// ---------------------------------------------------------------------------------------------------------------
// 1a. verifyAuthKey in a loop

interface VerifyCase {
  case: string;
  result: string;
  usPerCall: Summary;
}

function benchVerify(): VerifyCase[] {
  const now = Math.floor(Date.now() / 1000);
  const options = { primaryKey: KEY, secondaryKey: 'bench-secondary-key', validityMinutes: 1440 };
  const valid = Array.from({ length: 64 }, (_, i) => signAuthKey(SIGNED_PATH, KEY, now, i, 'u'));
  const badHash = Array.from({ length: 64 }, (_, i) => signAuthKey(SIGNED_PATH, 'wrong-key', now, i, 'u'));
  const malformed = Array.from({ length: 64 }, (_, i) => `${now}-${i}-nohash`);
  const cases: { name: string; keys: string[] }[] = [
    { name: 'valid key', keys: valid },
    { name: 'bad hash', keys: badHash },
    { name: 'malformed', keys: malformed },
  ];
  // Warm-up (JIT) of every case before any batch is timed.
  for (const c of cases) for (let i = 0; i < 20_000; i++) verifyAuthKey(c.keys[i & 63], SIGNED_PATH, options);
  const perCase = cases.map(() => [] as number[]);
  const results = cases.map(() => '');
  for (let b = 0; b < verifyBatches; b++) {
    // Cases interleaved batch by batch: drift on the machine hits them alike.
    cases.forEach((c, k) => {
      let ok = 0;
      let reason = '';
      const t = performance.now();
      for (let i = 0; i < verifyBatchSize; i++) {
        const r = verifyAuthKey(c.keys[i & 63], SIGNED_PATH, options);
        if (r.ok) ok++;
        else reason = r.reason;
      }
      perCase[k]?.push(((performance.now() - t) * 1000) / verifyBatchSize);
      results[k] = ok === verifyBatchSize ? 'ok' : ok === 0 ? `refused (${reason.split(':')[0] ?? reason})` : `${ok} ok`;
    });
  }
  return cases.map((c, k) => ({ case: c.name, result: results[k] ?? '', usPerCall: summarize(perCase[k] ?? [], 2) }));
}

// ---------------------------------------------------------------------------------------------------------------
// 1b. WHEP POST → 201, open vs signed domain

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function http(method: string, url: string, host: string, body?: string): Promise<{ status: number; location: string | undefined; ms: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = httpRequest(url, { method, agent, headers: { host, ...(body !== undefined ? { 'content-type': 'application/sdp', 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, ms: performance.now() - t }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

async function makeOffers(n: number): Promise<string[]> {
  const offers: string[] = [];
  for (let i = 0; i < n; i++) {
    const pc = peer([h264(102, '42e01f', FEEDBACK)], opus(111), FEEDBACK);
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    if (pc.iceGatheringState !== 'complete') await pc.iceGatheringStateChange.watch((s) => s === 'complete');
    offers.push(pc.localDescription?.sdp ?? '');
    await pc.close();
  }
  return offers;
}

type Variant = 'open' | 'signed' | 'bad key';
const VARIANTS: Variant[] = ['open', 'signed', 'bad key'];

interface EndToEnd {
  variant: Variant;
  host: string;
  status: number;
  answerMs: Summary;
  failures: number;
}

async function benchWhep(srv: WhipcastServer): Promise<{ rows: EndToEnd[]; signedMinusOpen: PairedDiff; badMinusOpen: PairedDiff }> {
  const offers = await makeOffers(offerCount);
  const times = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const statuses = new Map<Variant, Map<number, number>>(VARIANTS.map((v) => [v, new Map()]));
  const failures = new Map<Variant, number>(VARIANTS.map((v) => [v, 0]));
  const base = `${srv.httpUrl}/whep${SIGNED_PATH}`;
  const one = async (variant: Variant, offer: string): Promise<number> => {
    const now = Math.floor(Date.now() / 1000);
    const rand = Math.floor(Math.random() * 1e9);
    const url =
      variant === 'open' ? base : `${base}?auth_key=${signAuthKey(SIGNED_PATH, variant === 'signed' ? KEY : 'not-the-key', now, rand, 'bench')}`;
    const host = variant === 'open' ? OPEN_HOST : SIGNED_HOST;
    const r = await http('POST', url, host, offer);
    const expected = variant === 'bad key' ? 403 : 201;
    const st = statuses.get(variant) as Map<number, number>;
    st.set(r.status, (st.get(r.status) ?? 0) + 1);
    if (r.status !== expected) failures.set(variant, (failures.get(variant) ?? 0) + 1);
    if (r.status === 201 && r.location) await http('DELETE', new URL(r.location, srv.httpUrl).toString(), host);
    return r.ms;
  };
  // Warm-up: a few of each (JIT, keep-alive socket, mediasoup router paths).
  for (let i = 0; i < 10; i++) for (const v of VARIANTS) await one(v, offers[i % offers.length] ?? '');
  const rounds: Record<Variant, number>[] = [];
  for (let i = 0; i < requestsPerVariant; i++) {
    const order = VARIANTS.map((_, k) => VARIANTS[(k + i) % VARIANTS.length] as Variant);
    const round_: Partial<Record<Variant, number>> = {};
    for (const v of order) {
      const ms = await one(v, offers[i % offers.length] ?? '');
      times.get(v)?.push(ms);
      round_[v] = ms;
    }
    rounds.push(round_ as Record<Variant, number>);
  }
  const rows = VARIANTS.map((v) => {
    const st = [...(statuses.get(v) ?? new Map<number, number>()).entries()].sort((a, b) => b[1] - a[1]);
    return { variant: v, host: v === 'open' ? OPEN_HOST : SIGNED_HOST, status: st[0]?.[0] ?? 0, answerMs: summarize(times.get(v) ?? [], 3), failures: failures.get(v) ?? 0 };
  });
  return { rows, signedMinusOpen: paired(rounds.map((r) => r.signed - r.open)), badMinusOpen: paired(rounds.map((r) => r['bad key'] - r.open)) };
}

interface PairedDiff {
  /** Per round (same offer, back to back), in µs. */
  medianUs: number;
  meanUs: number;
  /** 95 % confidence half-width of the mean (normal approximation), in µs. */
  ci95Us: number;
  n: number;
}

function paired(diffsMs: number[]): PairedDiff {
  const us = diffsMs.map((d) => d * 1000);
  const n = us.length;
  const mean = us.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(us.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  return { medianUs: round(percentile(us, 50) ?? 0, 0), meanUs: round(mean, 0), ci95Us: round((1.96 * sd) / Math.sqrt(n), 0), n };
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Metrics collection at N viewers

/** The scraper: a separate Node process (its CPU is not the server's), GETs `url` on a fixed schedule. */
const SCRAPER = `
const [url, interval, count] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
(async () => {
  const out = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    out.push({ ms: performance.now() - t, bytes: body.byteLength, status: res.status });
  }
  // The window lasts count × interval, as the idle windows do.
  const rest = start + count * interval - performance.now();
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ scrapes: out, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - start }));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

interface ScrapeRun {
  scrapes: { ms: number; bytes: number; status: number }[];
  cpuMs: number;
  wallMs: number;
}

function runScraper(url: string): Promise<ScrapeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SCRAPER, url, String(intervalMs), String(scrapesPerWindow)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`scraper exited with code ${code}`));
      try {
        resolve(JSON.parse(out) as ScrapeRun);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

interface Sample {
  at: number;
  server: number;
  worker: number;
  machine: MachineCpu;
}

async function sample(srv: WhipcastServer): Promise<Sample> {
  const usage = await srv.sfu.workerUsage();
  const cpu = process.cpuUsage();
  return { at: performance.now(), server: (cpu.user + cpu.system) / 1000, worker: usage.reduce((s, u) => s + u.cpuMs, 0), machine: machineCpu() };
}

interface MetricsWindow {
  window: string;
  endpoint: string | undefined;
  seconds: number;
  scrapes: number;
  scrapeMs?: Summary;
  firstScrapeMs?: number;
  responseBytes?: number;
  scrapeErrors: number;
  /** % of one core. */
  serverPct: number;
  workerPct: number;
  scraperPct?: number;
  machineBusyPct: number;
  /** Server CPU time over the window, ms. */
  serverCpuMs: number;
  workerCpuMs: number;
  /** Event-loop delay of the server process beyond the 1 ms sampling timer (it hosts the bench driver too, which only sleeps meanwhile). */
  loopDelayMs: { p99: number; max: number };
  viewersConnected: number;
  viewerLossPct: number;
}

async function metricsWindow(srv: WhipcastServer, viewerPool: ViewerPool | undefined, name: string, endpoint: string | undefined): Promise<MetricsWindow> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  if (viewerPool && viewerPool.count > 0) await viewerPool.startWindow();
  const a = await sample(srv);
  loop.enable();
  let run: ScrapeRun | undefined;
  if (endpoint) run = await runScraper(`${srv.httpUrl}${endpoint}`);
  else await sleep(windowSeconds * 1000);
  loop.disable();
  const b = await sample(srv);
  const ended = viewerPool && viewerPool.count > 0 ? await viewerPool.endWindow() : { viewers: [] };
  const wall = b.at - a.at;
  const pct = (ms: number) => round((ms / wall) * 100, 2);
  let expected = 0;
  let received = 0;
  for (const v of ended.viewers) {
    expected += v.video.expected + v.audio.expected;
    received += v.video.received + v.audio.received;
  }
  const durations = run?.scrapes.slice(1).map((s) => s.ms) ?? [];
  const bytes = run?.scrapes.map((s) => s.bytes) ?? [];
  return {
    window: name,
    endpoint,
    seconds: round(wall / 1000, 1),
    scrapes: run?.scrapes.length ?? 0,
    ...(run
      ? {
          scrapeMs: summarize(durations, 2),
          firstScrapeMs: round(run.scrapes[0]?.ms ?? 0, 2),
          responseBytes: Math.round(bytes.reduce((x, y) => x + y, 0) / Math.max(1, bytes.length)),
          scraperPct: pct(run.cpuMs),
        }
      : {}),
    scrapeErrors: run?.scrapes.filter((s) => s.status !== 200).length ?? 0,
    serverPct: pct(b.server - a.server),
    workerPct: pct(b.worker - a.worker),
    machineBusyPct: round(machineBusyPercent(a.machine, b.machine), 1),
    serverCpuMs: round(b.server - a.server, 1),
    workerCpuMs: round(b.worker - a.worker, 1),
    // The histogram holds each 1 ms sampling timer's full period: the delay is what exceeds 1 ms.
    loopDelayMs: { p99: round(Math.max(0, loop.percentile(99) / 1e6 - 1), 1), max: round(Math.max(0, loop.max / 1e6 - 1), 1) },
    viewersConnected: ended.viewers.filter((v) => v.state === 'connected').length,
    viewerLossPct: expected > 0 ? round(((expected - received) / expected) * 100, 3) : 0,
  };
}

interface PerScrape {
  endpoint: string;
  scrapes: number;
  serverCpuMsPerScrape: number;
  workerCpuMsPerScrape: number;
  /** Extra server CPU at this scrape rate, % of one core (above the idle windows' mean). */
  serverPctAdded: number;
  workerPctAdded: number;
}

function perScrape(windows: MetricsWindow[]): PerScrape[] {
  const idle = windows.filter((w) => !w.endpoint);
  const idleServer = idle.reduce((s, w) => s + w.serverPct, 0) / Math.max(1, idle.length);
  const idleWorker = idle.reduce((s, w) => s + w.workerPct, 0) / Math.max(1, idle.length);
  return windows
    .filter((w): w is MetricsWindow & { endpoint: string } => w.endpoint !== undefined)
    .map((w) => {
      const extraServerMs = w.serverCpuMs - (idleServer / 100) * w.seconds * 1000;
      const extraWorkerMs = w.workerCpuMs - (idleWorker / 100) * w.seconds * 1000;
      return {
        endpoint: w.endpoint,
        scrapes: w.scrapes,
        serverCpuMsPerScrape: round(extraServerMs / w.scrapes, 2),
        workerCpuMsPerScrape: round(extraWorkerMs / w.scrapes, 2),
        serverPctAdded: round(w.serverPct - idleServer, 2),
        workerPctAdded: round(w.workerPct - idleWorker, 2),
      };
    });
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const machine = machineInfo();
  const command = `node dist/bench/overhead.js ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`overhead: ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}`);
  console.log(`command: ${command}`);

  // 1a — before the server starts: nothing else runs in this process.
  console.log(`\n[1a] verifyAuthKey: ${verifyBatches} batches × ${verifyBatchSize} calls per case`);
  const verify = benchVerify();
  printTable(
    ['case', 'result', 'µs/call p50', 'p95', 'min', 'max', 'calls/s (p50)'],
    verify.map((v): Cell[] => [v.case, v.result, v.usPerCall.p50, v.usPerCall.p95, v.usPerCall.min, v.usPerCall.max, v.usPerCall.p50 ? Math.round(1e6 / v.usPerCall.p50) : undefined]),
  );

  const config = resolveConfig({
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    rtc: { port: await freePortRange(1), listenIps: [{ ip: '127.0.0.1' }], workers: 1, viewersPerWorker: 100_000 },
    log: { level: flags['log-level'] },
    domains: [
      { host: OPEN_HOST, latencyMode: 'sub-second' },
      { host: SIGNED_HOST, latencyMode: 'sub-second', auth: { primaryKey: KEY, validityMinutes: 1440 } },
    ],
  });
  server = await startServer(config);
  const srv = server;

  publisherChild = BenchChild.spawn(1024 * 1024);
  const encoder = DEFAULT_ENCODER;
  // The default domain (127.0.0.1) has no key: the publisher needs none.
  const published = await publisherChild.request({ cmd: 'publish', url: `${srv.httpUrl}/whip${SIGNED_PATH}`, encoder }, 30_000);
  if (published.type !== 'published') throw new Error(`publisher: unexpected reply ${published.type}`);
  encoderPid = published.encoderPid;
  await waitFor(() => srv.registry.get(APP, NAME) !== undefined, 'stream live');
  console.log(`\npublisher: ${encoder.width}x${encoder.height}@${encoder.fps} H264 ${encoder.kbps} kbit/s + Opus 64k, from a child process`);
  await sleep(2000);

  // 1b
  console.log(`\n[1b] WHEP POST → 201 answer: ${requestsPerVariant} per variant, alternating; ${offerCount} werift offers; each session DELETEd (untimed)`);
  const whep = await benchWhep(srv);
  printTable(
    ['variant', 'Host', 'status', 'n', 'p50 ms', 'p95 ms', 'mean ms', 'min ms', 'unexpected'],
    whep.rows.map((r): Cell[] => [r.variant, r.host, r.status, r.answerMs.n, r.answerMs.p50, r.answerMs.p95, r.answerMs.mean, r.answerMs.min, r.failures]),
  );
  const d = whep.signedMinusOpen;
  const bad = whep.badMinusOpen;
  const p50 = (v: Variant) => whep.rows.find((r) => r.variant === v)?.answerMs.p50 ?? 0;
  console.log(`signed − open, per request: p50 difference ${round((p50('signed') - p50('open')) * 1000, 0)} µs; paired (same round, same offer): median ${d.medianUs} µs, mean ${d.meanUs} ± ${d.ci95Us} µs (95 %, n ${d.n})`);
  console.log(`bad key (403) − open (201): paired median ${bad.medianUs} µs (a refusal skips the transport and the SDP answer)`);

  // 2
  console.log(`\n[2] metrics collection at ${viewerCount} viewers: windows of ${windowSeconds} s, a scrape every ${intervalMs} ms (${scrapesPerWindow} per window)`);
  if (viewerCount > 0) {
    pool = new ViewerPool(`${srv.httpUrl}/whep${SIGNED_PATH}`, perProcess, 10, 1024 * 1024, FEEDBACK, true, viewerNice);
    const t = performance.now();
    const join = await pool.growTo(viewerCount);
    console.log(`${join.ok} viewers joined, ${join.failed} failed in ${((performance.now() - t) / 1000).toFixed(1)} s${join.errors.length ? ` (${join.errors.join('; ')})` : ''}`);
    await sleep(warmupSeconds * 1000);
  }
  const plan: [string, string | undefined][] = [
    ['idle 1', undefined],
    ['/metrics', '/metrics'],
    ['idle 2', undefined],
    ['/api/streams', '/api/streams'],
    ['idle 3', undefined],
  ];
  const windows: MetricsWindow[] = [];
  for (const [name, endpoint] of plan) {
    process.stdout.write(`  ${name}… `);
    const w = await metricsWindow(srv, pool, name, endpoint);
    windows.push(w);
    console.log(`server ${w.serverPct} %, worker ${w.workerPct} %${w.scrapeMs ? `, scrape p50 ${w.scrapeMs.p50} ms` : ''}`);
  }
  // Sanity: the scrape sees the viewers.
  const text = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  const seen = Number(/^whipcast_viewers (\d+)/m.exec(text)?.[1] ?? NaN);
  const apiStreams = (await (await fetch(`${srv.httpUrl}/api/streams`)).json()) as { streams: unknown[] };

  console.log(`\n=== metrics collection at ${viewerCount} viewers (CPU in % of one core; scrape times client side, first scrape excluded) ===`);
  printMetrics(windows);
  const added = perScrape(windows);
  console.log('');
  printTable(
    ['endpoint', 'scrapes', 'server CPU ms/scrape', 'worker CPU ms/scrape', 'server +% at this rate', 'worker +%'],
    added.map((a): Cell[] => [a.endpoint, a.scrapes, a.serverCpuMsPerScrape, a.workerCpuMsPerScrape, a.serverPctAdded, a.workerPctAdded]),
  );
  console.log(`(added = scraping window − mean of the ${windows.filter((w) => !w.endpoint).length} idle windows; whipcast_viewers in /metrics: ${seen}; /api/streams lists ${apiStreams.streams.length} stream(s))`);

  const { file, latest } = await writeResults('overhead', {
    name: 'overhead',
    startedAt: new Date().toISOString(),
    command,
    machine,
    config: {
      viewers: viewerCount,
      windowSeconds,
      intervalMs,
      scrapesPerWindow,
      warmupSeconds,
      requestsPerVariant,
      offers: offerCount,
      verifyBatches,
      verifyBatchSize,
      viewersPerProcess: perProcess,
      viewerNice,
      lightViewers: true,
      viewerFeedback: FEEDBACK,
      encoder,
      workers: 1,
    },
    signedUrls: {
      verifyAuthKey: verify,
      whepPostTo201: whep.rows,
      signedMinusOpen: { p50DiffUs: round((p50('signed') - p50('open')) * 1000, 0), paired: d },
      badKeyMinusOpen: bad,
    },
    metrics: {
      windows,
      perScrape: added,
      whipcastViewersSeen: seen,
      serverRssMiB: round((processRssBytes(process.pid) ?? 0) / 1048576, 0),
    },
  });
  console.log(`\nresults: ${file}\n         ${latest}`);
}

function printMetrics(windows: MetricsWindow[]): void {
  printTable(
    ['window', 's', 'scrapes', 'p50 ms', 'p95 ms', 'max ms', 'bytes', 'server%', 'worker%', 'scraper%', 'machine%', 'lag p99 ms', 'lag max ms', 'viewers', 'loss%'],
    windows.map((w): Cell[] => [
      w.window,
      w.seconds,
      w.scrapes || undefined,
      w.scrapeMs?.p50,
      w.scrapeMs?.p95,
      w.scrapeMs?.max,
      w.responseBytes,
      w.serverPct,
      w.workerPct,
      w.scraperPct,
      w.machineBusyPct,
      w.loopDelayMs.p99,
      w.loopDelayMs.max,
      w.viewersConnected,
      w.viewerLossPct,
    ]),
  );
}

const rigParts = () => ({ server, publisherChild, encoderPid, pool });

async function cleanup(): Promise<void> {
  agent.destroy();
  await cleanupRig(rigParts());
}

stopRigOnSignals(rigParts);

runBench('overhead', main, cleanup);
