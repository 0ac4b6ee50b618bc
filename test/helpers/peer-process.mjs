// A WHIP publisher or WHEP viewer in a process of its own, so that a test can SIGKILL it: the way an encoder or
// a viewer vanishes when its network dies (no DELETE, no DTLS close). The publisher sends synthetic VP8-framed
// RTP itself (no ffmpeg child that a SIGKILL would orphan). Prints "connected" once ICE+DTLS are up.
//   node peer-process.mjs whip|whep <endpoint URL> [bearer token]
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, useSdesMid } from 'werift';
import { negotiate } from '../../web-demo/whip-whep.js';

const [mode, endpoint, token] = process.argv.slice(2);
const vp8 = new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] });
const pc = new RTCPeerConnection({ codecs: { video: [vp8] }, headerExtensions: { video: [useSdesMid()] }, iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'] });
const track = new MediaStreamTrack({ kind: 'video' });
if (mode === 'whip') pc.addTransceiver(track, { direction: 'sendonly' });
else pc.addTransceiver('video', { direction: 'recvonly' });

// A refusal ends the process with its status and reason on stderr.
const session = await negotiate(pc, endpoint, { token, gather: true });
await pc.connectionStateChange.watch((s) => s === 'connected');
process.stdout.write(`connected ${session.location}\n`);

if (mode === 'whip') {
  let sequenceNumber = 0;
  let timestamp = 0;
  setInterval(() => {
    // A VP8 payload descriptor (S=1, partition 0) followed by a key-frame-looking payload header.
    const payload = Buffer.concat([Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a]), Buffer.alloc(200, 7)]);
    const header = new RtpHeader({ payloadType: 96, sequenceNumber: sequenceNumber++ & 0xffff, timestamp: (timestamp += 3000) >>> 0, marker: true, ssrc: 1 });
    track.writeRtp(new RtpPacket(header, payload));
  }, 33);
}
