// Minimal WHIP/WHEP client for the demo pages (RFC 9725 and WHEP). No trickle: the offer is sent at once
// (the server is ICE-lite and learns our address from our connectivity checks), which keeps joins fast.
export class MediaSession {
  constructor(pc, location, answer) {
    this.pc = pc;
    this.location = location;
    /** The server's SDP answer as received (pc.remoteDescription is the browser's re-serialisation). */
    this.answer = answer;
  }

  /** POSTs the offer of `pc` (created now unless it already has one: see preparePlay) and applies the answer. */
  static async start(endpoint, pc, token) {
    const startedAt = performance.now();
    if (!pc.localDescription) await pc.setLocalDescription(await pc.createOffer());
    const offeredAt = performance.now();
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: pc.localDescription.sdp,
    });
    const body = await response.text();
    const fetchedAt = performance.now();
    if (response.status !== 201) throw new Error(`${response.status}: ${body}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    // The endpoint may be relative to the page (the demo pages use "/whip/…"), and Location relative to it.
    const base = new URL(endpoint, document.baseURI);
    const session = new MediaSession(pc, new URL(response.headers.get('location'), base).toString(), body);
    /** performance.now() of each step: start, offer created, answer received, answer applied. */
    session.timing = { startedAt, offeredAt, fetchedAt, answeredAt: performance.now() };
    return session;
  }

  /** Ends the session with a DELETE (before closing the connection, so the server sees the DELETE, not a DTLS close). */
  async stop() {
    await fetch(this.location, { method: 'DELETE' }).catch(() => undefined);
    this.pc.close();
  }
}

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
  return MediaSession.start(endpoint, pc, token).catch((error) => {
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
  return MediaSession.start(endpoint, pc, token);
}
