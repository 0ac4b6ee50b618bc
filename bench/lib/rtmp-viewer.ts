// A werift WHEP viewer for the RTMP bench: recvonly, H264 reassembled into access units as they complete, and the
// moments that make up a time to first frame (POST sent, answer, DTLS connected, first video RTP, first IDR frame).
import { performance } from 'node:perf_hooks';
import { RTCPeerConnection, RTCRtpCodecParameters, useAbsSendTime, useSdesMid } from 'werift';
import { LOOPBACK_ONLY, negotiate } from '../../test/helpers/werift.js';
import { RtpFrames, type AccessUnit } from './rtmp-h264.js';
import { hangUp } from './webrtc.js';

const feedback = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

/** Every H264 profile the server forwards (it picks the viewer's entry with the stream's profile). */
const H264_PROFILES = ['42e01f', '4d001f', '64001f'];

export interface RtmpViewerTimings {
  /** performance.now() just before the WHEP POST. */
  postAt: number;
  answerAt?: number;
  connectedAt?: number;
  firstVideoAt?: number;
  /** First RTP packet of an IDR frame (its first NAL: SPS or IDR slice). */
  firstIdrPacketAt?: number;
  /** First complete access unit with an IDR slice: the first frame a decoder can start from. */
  firstIdrFrameAt?: number;
}

export interface RtmpViewer {
  timings: RtmpViewerTimings;
  frames: RtpFrames;
  /** H264 payload type and profile the server answered with. */
  answeredCodec: string;
  close(): Promise<void>;
}

function firstNalTypes(payload: Buffer): number[] {
  const type = (payload[0] ?? 0) & 0x1f;
  if (type === 24 && payload.length > 3) return [(payload[3] as number) & 0x1f];
  if (type === 28 && payload.length > 1 && (payload[1] as number) & 0x80) return [(payload[1] as number) & 0x1f];
  return type >= 1 && type <= 23 ? [type] : [];
}

/** Plays `url` over WHEP; `onFrame` gets each complete access unit, with the time it completed (performance.now()). */
export async function viewRtmp(url: string, onFrame: (unit: AccessUnit, at: number) => void): Promise<RtmpViewer> {
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
      video: H264_PROFILES.map(
        (id, i) =>
          new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType: 102 + 2 * i, rtcpFeedback: feedback, parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${id}` }),
      ),
    },
    headerExtensions: { audio: [useSdesMid()], video: [useSdesMid(), useAbsSendTime()] },
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    ...LOOPBACK_ONLY,
  });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const timings: RtmpViewerTimings = { postAt: 0 };
  const frames = new RtpFrames((unit) => {
    const at = performance.now();
    if (unit.idr && timings.firstIdrFrameAt === undefined) timings.firstIdrFrameAt = at;
    onFrame(unit, at);
  });
  pc.onTrack.subscribe((track) => {
    if (track.kind !== 'video') return;
    track.onReceiveRtp.subscribe((rtp) => {
      const now = performance.now();
      timings.firstVideoAt ??= now;
      if (timings.firstIdrPacketAt === undefined && firstNalTypes(rtp.payload).some((t) => t === 5 || t === 7)) timings.firstIdrPacketAt = now;
      frames.push(rtp.header.sequenceNumber, rtp.header.timestamp, rtp.header.marker, rtp.payload);
    });
  });
  pc.connectionStateChange.subscribe((state) => {
    if (state === 'connected') timings.connectedAt ??= performance.now();
  });

  try {
    const session = await negotiate(pc, url);
    timings.postAt = session.timing.offeredAt;
    timings.answerAt = session.timing.fetchedAt;
    const rtpmap = /m=video[\s\S]*?a=rtpmap:(\d+) H264\/90000[\s\S]*?a=fmtp:\1 ([^\r\n]*)/.exec(session.answer);
    return {
      timings,
      frames,
      answeredCodec: rtpmap ? `${rtpmap[1] ?? '?'} ${/profile-level-id=([0-9a-fA-F]+)/.exec(rtpmap[2] ?? '')?.[1] ?? '?'}` : '?',
      close: () => hangUp(session),
    };
  } catch (error) {
    await pc.close();
    throw error;
  }
}
