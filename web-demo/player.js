// play.html: WHEP player (or, with protocol=hls, an HLS player on hls.js served by whipcast) with automatic
// reconnection (the stream goes and comes back: the WHEP POST or the playlist request is retried with backoff on 404
// and connection failures), mute, lip sync on/off, simulcast layer choice (POST {Location}/layer), a stats overlay,
// measured glass-to-glass latency (latency.js) and, opt-in (default on here), latency reports to the server over
// GET /ws/player (the dashboard and /metrics show them).
import { play, preparePlay } from './whip-whep.js';
import { measureLatency } from './latency.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get('stream')) $('stream').value = params.get('stream');
if (params.get('token')) $('token').value = params.get('token');
if (params.get('report') !== null) $('report').checked = params.get('report') !== '0';
if (params.get('protocol') === 'hls') $('protocol').value = 'hls';
if (params.get('abr') !== null) $('abr').checked = params.get('abr') !== '0';
if (params.get('lipsync') === '0') $('lipsync').checked = false;
/** Page state, for scripts and automated tests. firstFrameMs / ttffMs: from the WHEP POST (offer creation included)
 *  to the first frame the video element presents (of the current connection); timing: the steps before it
 *  ({offerMs, fetchedMs, answerMs, connectedMs}: offer created, answer received, answer applied, DTLS connected,
 *  from the same start); connectionState: the RTCPeerConnection's, kept after the
 *  server ends the session; framesDecoded: of the current connection; reconnects: connections made again after
 *  one ended; latency: glass-to-glass, from the time code in the frames ({p50, p95, samples}, clockErrorMs);
 *  stats: what the overlay shows; reportsSent: latency reports sent to the server; hlsVariant: with HLS, the variant
 *  playing ({index, name, width, height, bandwidthBps}; with "adaptive", one of the multivariant playlist's). */
const state = (window.whipcast = {
  state: 'idle',
  firstFrameMs: undefined,
  ttffMs: undefined,
  timing: undefined,
  framesDecoded: 0,
  connectionState: 'new',
  session: undefined,
  error: undefined,
  lastError: undefined,
  latency: undefined,
  reconnects: 0,
  stats: {},
  reportsSent: 0,
  hlsVariant: undefined,
});
const fixed = (x, digits = 0) => (x === undefined || x === null || Number.isNaN(x) ? '-' : Number(x).toFixed(digits));
const setStatus = (text) => ($('status').textContent = state.state = text);
const video = $('video');

// --- latency measurement (all connections) ---
const showLatency = (l) => {
  $('latency').hidden = false;
  $('latency').textContent = `latency p50 ${fixed(l.p50)} ms  p95 ${fixed(l.p95)} ms  (${l.samples} frames, last 5 s)  clock error ±${fixed(l.clockErrorMs, 1)} ms (this page; the publisher's is on its calibrator)`;
};
let measuring;
/** (Re)starts the measurement: a new connection starts with an empty window. */
function startMeasuring() {
  measuring?.stop();
  measuring = measureLatency(video, { onUpdate: showLatency, keepAll: params.get('samples') === 'all' });
  state.latency = measuring.latency;
}

// --- mute, layers, overlay ---
const showMute = () => ($('mute').textContent = video.muted ? 'Unmute' : 'Mute');
$('mute').onclick = () => {
  video.muted = !video.muted;
  if (!video.muted) void video.play().catch(() => undefined);
  showMute();
};
video.onvolumechange = showMute;
// Simulcast layers (spatial, lowest first); "best" leaves the choice to the server.
$('layer').options[0].textContent = 'best';
$('layer').options[0].value = 'best';
for (const [value, label] of [['0', 'low'], ['1', 'medium'], ['2', 'high']]) $('layer').add(new Option(`${label} (${value})`, value));
const showLayerBox = () => ($('layerBox').hidden = params.get('layers') === '0' || $('protocol').value === 'hls');
$('protocol').onchange = showLayerBox;
showLayerBox();
$('layer').onchange = () => void applyLayer();
async function applyLayer() {
  const value = $('layer').value;
  if (!state.session) return;
  // "best": the highest spatial layer (3 is clamped to the best the publisher sends).
  const spatialLayer = value === 'best' ? 3 : Number(value);
  const response = await fetch(`${state.session.location}/layer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spatialLayer }) }).catch((e) => ({ ok: false, status: e.message }));
  if (!response.ok) state.lastError = `layer: ${response.status}`;
}
$('showStats').onchange = () => ($('overlay').hidden = !$('showStats').checked || state.session === undefined);

// --- stats ---
let previous;
async function sampleStats(pc) {
  const report = await pc.getStats();
  const all = [...report.values()];
  const videoIn = all.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
  const inbound = all.filter((s) => s.type === 'inbound-rtp');
  const pair = all.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  const remoteOut = all.find((s) => s.type === 'remote-outbound-rtp' && s.roundTripTime !== undefined);
  const bytes = inbound.reduce((sum, s) => sum + (s.bytesReceived ?? 0), 0);
  const now = performance.now();
  const bitrateBps = previous && previous.pc === pc ? ((bytes - previous.bytes) * 8 * 1000) / (now - previous.at) : undefined;
  previous = { pc, bytes, at: now };
  const rttS = pair?.currentRoundTripTime ?? remoteOut?.roundTripTime;
  const jitterBufferMs = videoIn && videoIn.jitterBufferEmittedCount ? (videoIn.jitterBufferDelay / videoIn.jitterBufferEmittedCount) * 1000 : undefined;
  state.framesDecoded = videoIn?.framesDecoded ?? 0;
  state.stats = {
    bitrateBps,
    fps: videoIn?.framesPerSecond,
    width: videoIn?.frameWidth,
    height: videoIn?.frameHeight,
    jitterBufferMs,
    packetsLost: inbound.reduce((sum, s) => sum + (s.packetsLost ?? 0), 0),
    rttMs: rttS === undefined ? undefined : rttS * 1000,
    framesDecoded: state.framesDecoded,
  };
  showStats();
}

/** The HLS player's figures: bitrate (hls.js's estimate), frames and fps from the <video>, the buffer ahead. */
let previousFrames;
function sampleHlsStats(hls) {
  const quality = video.getVideoPlaybackQuality();
  const now = performance.now();
  const fps = previousFrames ? ((quality.totalVideoFrames - previousFrames.frames) * 1000) / (now - previousFrames.at) : undefined;
  previousFrames = { frames: quality.totalVideoFrames, at: now };
  const buffered = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : undefined;
  state.framesDecoded = quality.totalVideoFrames;
  state.stats = {
    bitrateBps: hls.bandwidthEstimate,
    fps,
    width: video.videoWidth,
    height: video.videoHeight,
    bufferMs: buffered === undefined ? undefined : buffered * 1000,
    packetsLost: quality.droppedVideoFrames,
    framesDecoded: state.framesDecoded,
  };
  showStats();
}

function showStats() {
  const s = state.stats;
  const l = state.latency;
  const hls = $('protocol').value === 'hls';
  $('overlay').textContent = [
    `bitrate   ${s.bitrateBps === undefined ? '-' : `${fixed(s.bitrateBps / 1000)} kbit/s`}${hls ? ' (estimate)' : ''}`,
    `video     ${s.width ?? '-'}×${s.height ?? '-'} @ ${fixed(s.fps)} fps`,
    ...(hls && state.hlsVariant ? [`variant   ${state.hlsVariant.name} (${fixed(state.hlsVariant.bandwidthBps / 1000)} kbit/s)`] : []),
    hls ? `buffer    ${fixed(s.bufferMs)} ms` : `jitter buffer ${fixed(s.jitterBufferMs)} ms`,
    `${hls ? 'dropped' : 'lost   '}   ${s.packetsLost}`,
    ...(hls ? [] : [`RTT       ${fixed(s.rttMs)} ms`]),
    `latency   ${l?.p50 === undefined ? '- (no time code)' : `p50 ${fixed(l.p50)} / p95 ${fixed(l.p95)} ms`}`,
    `TTFF      ${fixed(state.ttffMs)} ms${state.timing ? ` (offer ${state.timing.offerMs} · answer ${state.timing.answerMs} · connected ${state.timing.connectedMs ?? '-'})` : ''}`,
    `reconnects ${state.reconnects}`,
  ].join('\n');
  $('stats').textContent = `frames decoded ${state.framesDecoded}  fps ${fixed(s.fps)}  ${hls ? 'dropped' : 'lost'} ${s.packetsLost}  first frame ${state.firstFrameMs ?? '-'} ms`;
}

// --- latency reports (GET /ws/player) ---
let reporter;
function startReporting(streamName) {
  stopReporting();
  const [app, stream] = streamName.split('/');
  const url = new URL('/ws/player', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  let socket;
  let closed = false;
  const connect = () => {
    socket = new WebSocket(url);
    socket.onclose = () => {
      if (!closed) setTimeout(connect, 3000);
    };
  };
  connect();
  const timer = setInterval(() => {
    const l = state.latency;
    if (!$('report').checked || socket.readyState !== WebSocket.OPEN || state.state !== 'playing') return;
    const round = (x) => (x === undefined || x === null ? null : Math.round(x));
    socket.send(JSON.stringify({ app, stream, latencyP50Ms: round(l?.p50), latencyP95Ms: round(l?.p95), ttffMs: round(state.ttffMs) }));
    state.reportsSent++;
  }, Number(params.get('reportEvery') ?? 2000));
  reporter = {
    stop() {
      closed = true;
      clearInterval(timer);
      socket.close();
    },
  };
}
function stopReporting() {
  reporter?.stop();
  reporter = undefined;
}

// --- play with reconnection ---
class Fatal extends Error {}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let generation = 0;
let statsTimer;

/** One WHEP session: resolves when it has ended (DTLS closed, connection failed or closed, or disconnected 3 s). */
async function connectOnce(gen, streamName, established) {
  const started = performance.now();
  state.firstFrameMs = state.ttffMs = state.timing = undefined;
  const layer = $('layer').value;
  const options = new URLSearchParams({ ...(layer === 'best' ? {} : { spatialLayer: layer }), ...($('lipsync').checked ? {} : { lipsync: '0' }) });
  const query = options.size ? `?${options}` : '';
  // The tracks go to the <video> once the session is up: a new srcObject restarts the element's load, which drops
  // the frame callbacks registered before it, so they (first frame, latency measurement) are registered after it.
  const sink = { srcObject: null };
  let session;
  const pc = await (nextPeer ?? preparePlay());
  nextPeer = undefined;
  try {
    session = await play(`/whep/${streamName}${query}`, sink, { token: $('token').value || undefined, prepared: pc });
  } catch (error) {
    // Refused or unreachable: the offer was not taken, so the next attempt sends it again.
    if (pc.signalingState === 'have-local-offer') nextPeer = Promise.resolve(pc);
    else pc.close();
    const status = error.status; // a WhipWhepError's; undefined for network errors
    // 404 (not live yet / any more), 5xx, network errors: retry; 4xx otherwise (auth, bad name): give up
    if (status >= 400 && status < 500 && status !== 404 && status !== 429) throw new Fatal(error.message);
    throw error;
  }
  if (gen !== generation) {
    await session.stop();
    return;
  }
  state.session = session;
  const since = (t) => Math.round(t - started);
  state.timing = { offerMs: since(session.timing.offeredAt), fetchedMs: since(session.timing.fetchedAt), answerMs: since(session.timing.answeredAt) };
  const markConnected = () => session.pc.connectionState === 'connected' && (state.timing.connectedMs ??= since(performance.now()));
  session.pc.addEventListener('connectionstatechange', markConnected);
  markConnected();
  established();
  watchFirstFrame(started);
  video.srcObject = playedStream(session.pc, sink.srcObject);
  clearInterval(statsTimer);
  previous = { pc: session.pc, bytes: 0, at: performance.now() }; // the first sample: the mean since the start
  statsTimer = setInterval(() => void sampleStats(session.pc).catch(() => undefined), 500);
  $('overlay').hidden = !$('showStats').checked;
  await new Promise((resolve) => {
    let disconnectedTimer;
    const poll = setInterval(() => gen !== generation && done(), 250);
    const done = () => {
      clearInterval(poll);
      clearTimeout(disconnectedTimer);
      resolve();
    };
    const check = () => {
      state.connectionState = pc.connectionState;
      if (pc.connectionState === 'connected') setStatus('playing');
      else if (pc.connectionState !== 'closed') setStatus(pc.connectionState);
      clearTimeout(disconnectedTimer);
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') done();
      else if (pc.connectionState === 'disconnected') disconnectedTimer = setTimeout(done, 3000);
    };
    pc.addEventListener('connectionstatechange', check);
    // the server's DTLS close alert (the publisher left): Chromium may keep connectionState as it was
    const dtls = pc.getReceivers()[0]?.transport;
    dtls?.addEventListener('statechange', () => (dtls.state === 'closed' || dtls.state === 'failed') && done());
    check();
  });
  clearInterval(statsTimer);
  pc.close(); // the server has ended it (its resource is gone) or we are stopping
  state.connectionState = pc.connectionState;
  prepareNextPeer();
}

/**
 * The stream the <video> plays: every track the session receives. With lip sync on, the server announces audio and
 * video in one stream, which is played as it is; with ?lipsync=0 each has a stream of its own and the session's sink
 * keeps only the last announced (the video's), so the tracks are put together in one stream, and the <video> (and
 * its mute button) plays the audio too. The browser's audio/video sync follows the streams of the server's SDP, not
 * the element's, so this does not bring lip sync back.
 */
function playedStream(pc, announced) {
  const receiving = pc.getTransceivers().filter((t) => t.currentDirection === 'recvonly' || t.currentDirection === 'sendrecv');
  const tracks = receiving.map((t) => t.receiver.track);
  if (announced && tracks.every((track) => announced.getTracks().includes(track))) return announced;
  const stream = new MediaStream(announced?.getTracks() ?? []);
  for (const track of tracks) if (!stream.getTracks().includes(track)) stream.addTrack(track);
  return stream;
}

/**
 * The connection of the next WebRTC join, offer included, made while nobody waits: when the page opens, and again
 * after each join (for a reconnection). A join that finds none makes its own.
 */
let nextPeer;
function prepareNextPeer() {
  if (nextPeer || $('protocol').value !== 'whep') return;
  nextPeer = preparePlay();
  nextPeer.catch(() => (nextPeer = undefined));
}

/** Time to first frame (from `started`) and a new latency window, once the <video> starts loading its new source. */
function watchFirstFrame(started) {
  video.addEventListener(
    'loadstart',
    () => {
      video.requestVideoFrameCallback(() => {
        state.firstFrameMs = state.ttffMs = Math.round(performance.now() - started);
      });
      startMeasuring();
    },
    { once: true },
  );
}

/**
 * One HLS session (/live/{app}/{stream}.m3u8 with hls.js, tuned to stay one segment behind the live edge): resolves
 * when it has ended (the stream went: its playlist is gone, or a fatal media error).
 */
async function connectHlsOnce(gen, streamName, established) {
  const started = performance.now();
  state.firstFrameMs = state.ttffMs = undefined;
  const { default: Hls } = await import('/vendor/hls.js/hls.light.min.mjs');
  if (!Hls.isSupported()) throw new Fatal('this browser cannot play HLS with hls.js (no Media Source Extensions)');
  const token = $('token').value;
  const query = new URLSearchParams();
  if ($('abr').checked) query.set('abr', '1');
  if (token) query.set('token', token);
  const url = `/live/${streamName}.m3u8${query.size > 0 ? `?${query.toString()}` : ''}`;
  state.hlsVariant = undefined;
  // The server's playlist is there once the stream is live (404 before): ask for it first so that a stream that is
  // not live is retried by the loop below, and refusals (401/403) end it, as for WHEP.
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) {
    const message = `${response.status}: ${(await response.text()).trim()}`;
    if (response.status >= 400 && response.status < 500 && response.status !== 404 && response.status !== 429) throw new Fatal(message);
    throw new Error(message);
  }
  if (gen !== generation) return;
  const hls = new Hls({ liveSyncDurationCount: 1, liveMaxLatencyDurationCount: 3, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 10, lowLatencyMode: false });
  state.session = { protocol: 'hls', url, stop: async () => hls.destroy() };
  established();
  watchFirstFrame(started);
  clearInterval(statsTimer);
  previousFrames = undefined;
  statsTimer = setInterval(() => sampleHlsStats(hls), 500);
  $('overlay').hidden = !$('showStats').checked;
  await new Promise((resolve) => {
    const poll = setInterval(() => gen !== generation && done(), 250);
    const done = () => {
      clearInterval(poll);
      resolve();
    };
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      setStatus('playing');
      void video.play().catch(() => undefined);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, { level }) => {
      const variant = hls.levels[level];
      if (!variant) return;
      const name = decodeURIComponent(new URL(variant.uri, location.href).pathname.split('/').pop() ?? '').replace(/\.m3u8$/, '');
      state.hlsVariant = { index: level, name, width: variant.width, height: variant.height, bandwidthBps: variant.bitrate };
      showStats();
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      state.lastError = `hls: ${data.details}${data.response?.code ? ` (${data.response.code})` : ''}`;
      done();
    });
    video.srcObject = null; // a WHEP session's stream would take precedence over the MediaSource
    hls.loadSource(url);
    hls.attachMedia(video);
  });
  clearInterval(statsTimer);
  hls.destroy();
  video.removeAttribute('src');
}

async function run(streamName) {
  const gen = ++generation;
  let failures = 0;
  let sessions = 0;
  while (gen === generation) {
    setStatus(sessions === 0 ? 'connecting' : 'reconnecting');
    try {
      const connect = $('protocol').value === 'hls' ? connectHlsOnce : connectOnce;
      await connect(gen, streamName, () => {
        if (sessions > 0) state.reconnects++;
        sessions++;
        failures = 0;
      });
    } catch (error) {
      if (error instanceof Fatal) {
        state.error = error.message;
        setStatus(`error: ${error.message}`);
        return;
      }
      state.lastError = error.message;
      failures++;
    }
    if (gen !== generation) return;
    const delay = Math.min(5000, 250 * 2 ** Math.min(failures, 5));
    setStatus(`waiting for the stream (retry in ${(delay / 1000).toFixed(1)} s${state.lastError ? `; ${state.lastError}` : ''})`);
    await sleep(delay);
  }
}

$('form').onsubmit = (event) => {
  event.preventDefault();
  const streamName = $('stream').value;
  state.error = undefined;
  state.reconnects = 0;
  measuring?.stop();
  startReporting(streamName);
  $('stop').disabled = false;
  void run(streamName);
};
$('stop').onclick = async () => {
  generation++;
  stopReporting();
  measuring?.stop();
  clearInterval(statsTimer);
  await state.session?.stop();
  setStatus('stopped');
  $('stop').disabled = true;
};
showMute();
$('protocol').addEventListener('change', prepareNextPeer);
if (params.get('autoplay') !== null) $('form').requestSubmit();
else prepareNextPeer();
