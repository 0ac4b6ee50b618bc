// dashboard.html: the live streams as the control API sees them, pushed every second over GET /api/events (admin:
// the admin token as ?token=, or a page served to this machine), with a small bitrate/latency graph per stream.
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get('token')) $('token').value = params.get('token');
/** Page state for scripts and tests: connected, snapshots received, the last snapshot's streams. */
const state = (window.whipcast = { connected: false, snapshots: 0, streams: [] });
const HISTORY = 120; // samples (one a second)
/** Per stream "app/stream": its last samples {in, out, latency}. */
const history = new Map();

const fixed = (x, d = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
const kbps = (bps) => `${fixed(bps / 1000)} kbit/s`;
const duration = (s) => (s < 60 ? `${fixed(s)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${fixed(s % 60)} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`);
const text = (tag, content, className) => {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
};
// What a snapshot's stream carries: GET /api/streams's description (src/streams/describe.ts) and its extras
// (src/server.ts: relays, recording, hls), plus viewerLatency (src/http/events.ts).
const relaysText = (relays) => (relays.length > 0 ? relays.map((r) => `${r.url}: ${r.state}`).join(', ') : 'none');
const recordingText = (recording) => (recording ? recording.state : 'off');

function draw(canvas, samples) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fafafa';
  ctx.fillRect(0, 0, width, height);
  const line = (values, max, color) => {
    if (max <= 0) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    values.forEach((v, i) => {
      if (v === null || v === undefined) return (started = false);
      const x = width - (values.length - 1 - i) * (width / (HISTORY - 1));
      const y = height - 2 - (v / max) * (height - 4);
      if (started) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      started = true;
    });
    ctx.stroke();
  };
  const bitrateMax = Math.max(1, ...samples.map((s) => Math.max(s.in, s.out)));
  const latencies = samples.map((s) => s.latency);
  const latencyMax = Math.max(0, ...latencies.filter((v) => v !== null));
  line(samples.map((s) => s.in), bitrateMax, '#1565c0');
  line(samples.map((s) => s.out), bitrateMax, '#2e7d32');
  line(latencies, latencyMax * 1.2, '#c62828');
  ctx.fillStyle = '#555';
  ctx.font = '10px sans-serif';
  ctx.fillText(`${fixed(bitrateMax / 1000)} kbit/s`, 2, 10);
  if (latencyMax > 0) ctx.fillText(`${fixed(latencyMax * 1.2)} ms`, width - 48, 10);
}

function render(streams) {
  const body = $('streams');
  const live = new Set(streams.map((s) => `${s.app}/${s.stream}`));
  for (const key of history.keys()) if (!live.has(key)) history.delete(key);
  body.replaceChildren();
  if (streams.length === 0) body.append(Object.assign(document.createElement('tr'), { innerHTML: '<td colspan="11">no live streams</td>' }));
  for (const s of streams) {
    const key = `${s.app}/${s.stream}`;
    const samples = history.get(key) ?? [];
    history.set(key, samples);
    const vl = s.viewerLatency;
    samples.push({ in: s.bitrateInBps, out: s.egress.bitrateBps, latency: vl?.latencyP50Ms ?? null });
    while (samples.length > HISTORY) samples.shift();
    const row = document.createElement('tr');
    row.dataset.stream = key;
    const codecs = s.tracks.map((t) => t.codec.replace(/^(audio|video)\//, '') + (t.simulcastLayers > 1 ? ` ×${t.simulcastLayers}` : '')).join(', ');
    const name = text('td', '');
    name.append(text('b', key, 'name'), document.createElement('br'), text('span', `${s.host} ${codecs}`, 'legend'));
    row.append(
      name,
      text('td', s.protocol),
      text('td', String(s.viewers), 'num viewers'),
      text('td', `${kbps(s.bitrateInBps)} / ${kbps(s.egress.bitrateBps)}`, 'num'),
      text('td', s.transcode),
      text('td', relaysText(s.relays)),
      text('td', recordingText(s.recording)),
      text('td', vl && vl.latencyP50Ms !== null ? `${fixed(vl.latencyP50Ms)} / ${fixed(vl.latencyP95Ms)} ms (${vl.viewers} reporting)` : vl ? `- (${vl.viewers} reporting, no time code)` : '-', 'num latency'),
      text('td', vl && vl.ttffMs !== null ? `${fixed(vl.ttffMs)} ms` : '-', 'num'),
      text('td', duration(s.uptimeSeconds), 'num'),
    );
    const graph = document.createElement('td');
    const canvas = Object.assign(document.createElement('canvas'), { width: 240, height: 48 });
    graph.append(canvas);
    row.append(graph);
    body.append(row);
    draw(canvas, samples);
  }
}

let socket;
let retry;
function connect() {
  clearTimeout(retry);
  socket?.close();
  const url = new URL('/api/events', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if ($('token').value) url.searchParams.set('token', $('token').value);
  const ws = (socket = new WebSocket(url));
  $('status').textContent = 'connecting…';
  ws.onopen = () => {
    state.connected = true;
    $('status').textContent = 'connected: updates every second';
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type !== 'snapshot') return;
    state.snapshots++;
    state.streams = message.streams;
    render(message.streams);
  };
  ws.onclose = (event) => {
    if (ws !== socket) return;
    state.connected = false;
    // a refused upgrade closes with 1006: most often a missing or wrong admin token
    $('status').textContent = `disconnected (${event.code}); retrying in 3 s: an admin token is needed from other machines`;
    retry = setTimeout(connect, 3000);
  };
}
$('form').onsubmit = (event) => {
  event.preventDefault();
  connect();
};
connect();
