// The WHIP/WHEP client of whipcast (RFC 9725 and WHEP): the HTTP side of a session, for the demo pages (served as
// /whip-whep.js) and, unchanged, for the Node tests and benches (Node 20 has fetch), which drive werift peers with
// it. The caller makes the RTCPeerConnection: the code only uses what werift's and the browsers' have in common.
// Types: whip-whep.d.ts.

export const SDP = 'application/sdp';
export const SDPFRAG = 'application/trickle-ice-sdpfrag';

/** Long enough for any reason whipcast gives; an HTML error page from a proxy would otherwise flood the message. */
const REASON_CHARS = 500;

/** A request the server refused, or an answer that breaks the protocol: the status and the server's plain-text reason. */
export class WhipWhepError extends Error {
  constructor(method, url, status, body) {
    super(`${method} ${url} → ${status}: ${body.length > REASON_CHARS ? `${body.slice(0, REASON_CHARS)}…` : body}`);
    this.name = 'WhipWhepError';
    this.method = method;
    this.url = url;
    this.status = status;
    this.body = body;
  }
}

/** An endpoint relative to the page (the demo pages POST to "/whip/…"); in Node there is no page, so it must be absolute. */
function absolute(endpoint) {
  return new URL(endpoint, globalThis.document?.baseURI).toString();
}

const authorization = (token) => (token ? { authorization: `Bearer ${token}` } : {});

/** A session resource the server created (its Location), and what the session's later requests need. */
export class WhipWhepSession {
  constructor({ location, answer, etag = null, link = null, token, fetch = globalThis.fetch, pc }) {
    this.location = location;
    /** The server's SDP answer as received (pc.remoteDescription is the peer's re-serialisation). */
    this.answer = answer;
    this.etag = etag;
    this.link = link;
    this.pc = pc;
    /** performance.now() of each step, when negotiate() made the session. */
    this.timing = undefined;
    this.token = token;
    this.fetch = fetch;
  }

  /** Trickles candidates (or end-of-candidates) of the current ICE session; the server answers 204. */
  async trickle(fragment) {
    await this.patch(fragment, this.etag ?? undefined);
  }

  /**
   * Restarts ICE: the fragment carries the new ufrag and pwd; resolves to the server's fragment (its new ufrag,
   * pwd and candidates), and the session keeps its new ETag.
   */
  async restartIce(fragment) {
    const response = await this.patch(fragment, '*');
    if (response.status !== 200) throw new WhipWhepError('PATCH', this.location, response.status, 'an ICE restart needs a 200 with the server\'s fragment');
    this.etag = response.headers.get('etag') ?? this.etag;
    return response.text();
  }

  /** Ends the session; throws unless the server answers 2xx (whipcast: 200, also for a session that just ended). */
  async delete({ signal } = {}) {
    const response = await this.request({ method: 'DELETE', headers: authorization(this.token), signal });
    if (!response.ok) throw new WhipWhepError('DELETE', this.location, response.status, await response.text());
  }

  /**
   * Hangs up: DELETE first, then closes the connection, so the server learns of it from the DELETE rather than from
   * a DTLS close. A failed DELETE is not an error here: the server may be gone already.
   */
  async stop({ signal } = {}) {
    await this.delete({ signal }).catch(() => undefined);
    await this.pc?.close();
  }

  /** A request to the session resource. fetch is called unbound: a browser's refuses any `this` but the window. */
  request(init) {
    const fetch = this.fetch;
    return fetch(this.location, init);
  }

  async patch(fragment, ifMatch) {
    const response = await this.request({
      method: 'PATCH',
      headers: { 'content-type': SDPFRAG, ...(ifMatch ? { 'if-match': ifMatch } : {}), ...authorization(this.token) },
      body: fragment,
    });
    if (!response.ok) throw new WhipWhepError('PATCH', this.location, response.status, await response.text());
    return response;
  }
}

/** POSTs an SDP offer; resolves to the session (Location resolved against the endpoint) or throws a WhipWhepError. */
export async function postOffer(endpoint, offer, { token, fetch = globalThis.fetch, signal } = {}) {
  const url = absolute(endpoint);
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': SDP, ...authorization(token) }, body: offer, signal });
  const body = await response.text();
  if (response.status !== 201) throw new WhipWhepError('POST', url, response.status, body);
  const location = response.headers.get('location');
  if (!location) throw new WhipWhepError('POST', url, response.status, 'the answer has no Location header');
  return new WhipWhepSession({ location: new URL(location, url).toString(), answer: body, etag: response.headers.get('etag'), link: response.headers.get('link'), token, fetch });
}

/** Resolves once the connection has all its candidates (for a client that sends them in the offer, not by PATCH). */
export function iceGathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const changed = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', changed);
      resolve();
    };
    pc.addEventListener('icegatheringstatechange', changed);
  });
}

/**
 * Sends the offer of `pc` (created now unless it has one: see preparePlay) and applies the answer. `gather`: wait
 * for every candidate first, to send them all in the offer; without it the offer goes at once, which suits
 * whipcast (ICE-lite: it learns the client's address from the client's connectivity checks) and keeps joins fast.
 * The connection is the caller's to close if this throws.
 */
export async function negotiate(pc, endpoint, { gather = false, ...options } = {}) {
  const startedAt = performance.now();
  if (!pc.localDescription) await pc.setLocalDescription(await pc.createOffer());
  if (gather) await iceGathered(pc);
  const offeredAt = performance.now();
  const session = await postOffer(endpoint, pc.localDescription.sdp, options);
  const fetchedAt = performance.now();
  await pc.setRemoteDescription({ type: 'answer', sdp: session.answer });
  session.pc = pc;
  session.timing = { startedAt, offeredAt, fetchedAt, answeredAt: performance.now() };
  return session;
}

/**
 * An sdpfrag (RFC 8840) for trickle or ICE restart: the ICE credentials, then the candidates of the media section
 * `mid` (under the placeholder m= line RFC 9725 uses: the mid names the section, the m= line's content is ignored).
 */
export function sdpFragment({ ufrag, pwd, mid, candidates = [], endOfCandidates = false }) {
  if (mid === undefined && (candidates.length > 0 || endOfCandidates)) throw new Error('sdpFragment: candidates need the mid of their media section');
  const lines = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
  if (mid !== undefined) lines.push('m=audio 9 RTP/AVP 0', `a=mid:${mid}`);
  for (const candidate of candidates) lines.push(`a=${candidate.replace(/^a=/, '')}`);
  if (endOfCandidates) lines.push('a=end-of-candidates');
  return `${lines.join('\r\n')}\r\n`;
}

// --- the demo pages' publisher and player (browser only) ---

/** Publishes a MediaStream over WHIP, with the chosen video codec first (the connection is closed if that fails). */
export async function publish(endpoint, stream, { codec = 'H264', token, simulcast = false } = {}) {
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const init = { direction: 'sendonly', streams: [stream] };
    if (track.kind === 'video' && simulcast) {
      init.sendEncodings = [{ rid: 'q', scaleResolutionDownBy: 4 }, { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' }];
    }
    const transceiver = pc.addTransceiver(track, init);
    if (track.kind === 'video') {
      const codecs = RTCRtpSender.getCapabilities('video').codecs;
      const wanted = codecs.filter((c) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}` && (codec !== 'H264' || /packetization-mode=1/.test(c.sdpFmtpLine ?? '')));
      transceiver.setCodecPreferences([...wanted, ...codecs.filter((c) => !wanted.includes(c))]);
    }
  }
  return negotiate(pc, endpoint, { token }).catch((error) => {
    pc.close();
    throw error;
  });
}

/**
 * A receive-only RTCPeerConnection whose offer is already made (it holds nothing of the server's, so it can be made
 * before the viewer asks to play): a join then starts with the POST, which takes the offer's time off the time to
 * first frame. Resolves to the connection.
 */
export async function preparePlay() {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  return pc;
}

/** Plays a stream over WHEP into a <video> element; `prepared`: a preparePlay() connection to use (the caller's if
 *  this fails: it may send its offer again). */
export async function play(endpoint, video, { token, prepared } = {}) {
  const pc = await (prepared ?? preparePlay());
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
  };
  return negotiate(pc, endpoint, { token });
}
