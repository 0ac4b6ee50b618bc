// werift (pure TypeScript WebRTC) clients for the benchmarks: a WHIP publisher fed by ffmpeg (720p30 H264 at
// ~1.5 Mbps + Opus) and a lightweight WHEP viewer that only counts what it receives.
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  MediaStreamTrack,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useAbsSendTime,
  useSdesMid,
  useTransportWideCC,
} from 'werift';
import { LOOPBACK_ONLY, negotiate, rtpReceiver, rtpUrl, type HttpSession } from '../../test/helpers/werift.js';
import { isH264KeyFrameStart, SequenceTracker } from './rtp.js';
import { divertRtp, ssrcsByKind, stopDiverting } from './udp.js';

/** RTCP feedback a peer negotiates. PLI/FIR always; NACK and transport-wide CC optional (see ViewOptions). */
export interface Feedback {
  nack: boolean;
  twcc: boolean;
}
const ALL_FEEDBACK: Feedback = { nack: true, twcc: true };

const rtcpFeedback = (f: Feedback) => [
  ...(f.nack ? [{ type: 'nack' }] : []),
  { type: 'nack', parameter: 'pli' },
  { type: 'ccm', parameter: 'fir' },
  ...(f.twcc ? [{ type: 'transport-cc' }] : []),
];

/** H264 packetization-mode=1 with this profile-level-id and payload type. */
export const h264 = (payloadType: number, profileLevelId = '42e01f', feedback: Feedback = ALL_FEEDBACK): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    payloadType,
    rtcpFeedback: rtcpFeedback(feedback),
    parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${profileLevelId}`,
  });

export const opus = (payloadType = 111): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType, parameters: 'minptime=10;useinbandfec=1' });

export function peer(video: RTCRtpCodecParameters[], audio: RTCRtpCodecParameters, feedback: Feedback = ALL_FEEDBACK): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: { audio: [audio], video },
    headerExtensions: { audio: [useSdesMid()], video: [useSdesMid(), useAbsSendTime(), ...(feedback.twcc ? [useTransportWideCC()] : [])] },
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    ...LOOPBACK_ONLY,
  });
}

/** Ends a session at the end of a run: DELETE, then close. The server may be gone already: this gives up on the
 *  DELETE after 2 s and never throws. */
export function hangUp(session: HttpSession): Promise<void> {
  return session.stop({ signal: AbortSignal.timeout(2000) });
}

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  /** Video bitrate in kbit/s (also the VBV maxrate; bufsize is half of it). */
  kbps: number;
  /** Key-frame interval in frames. */
  gop: number;
  preset: string;
  audio: boolean;
}

export const DEFAULT_ENCODER: EncoderOptions = { width: 1280, height: 720, fps: 30, kbps: 1500, gop: 60, preset: 'ultrafast', audio: true };

export interface Publisher {
  pc: RTCPeerConnection;
  location: string;
  /** The ffmpeg encoder's pid (to measure its CPU separately). */
  encoderPid: number | undefined;
  connected: Promise<void>;
  close(): Promise<void>;
  /** Synchronous last resort: stop the encoder now (exit paths). */
  kill(): void;
}

/**
 * Publishes testsrc2 (+ a 440 Hz tone) over WHIP: ffmpeg encodes to RTP on loopback, werift sends it on.
 * H264 constrained baseline, zerolatency, CBR-ish VBV. ffmpeg ignores PLI: key frames come every `gop` frames.
 */
export async function publishFfmpeg(url: string, encoder: EncoderOptions = DEFAULT_ENCODER): Promise<Publisher> {
  const pc = peer([h264(102)], opus(111));
  const videoTrack = new MediaStreamTrack({ kind: 'video' });
  pc.addTransceiver(videoTrack, { direction: 'sendonly' });
  const audioTrack = encoder.audio ? new MediaStreamTrack({ kind: 'audio' }) : undefined;
  if (audioTrack) pc.addTransceiver(audioTrack, { direction: 'sendonly' });
  const session = await negotiate(pc, url);
  const connected = pc.connectionState === 'connected' ? Promise.resolve() : pc.connectionStateChange.watch((s) => s === 'connected').then(() => undefined);

  const videoSocket = await rtpReceiver((packet) => videoTrack.writeRtp(packet));
  const audioSocket = audioTrack ? await rtpReceiver((packet) => audioTrack.writeRtp(packet)) : undefined;
  const { width, height, fps, kbps, gop, preset } = encoder;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    ...(audioSocket ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
    '-map', '0:v', '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-bf', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-f', 'rtp', '-payload_type', '96', rtpUrl(videoSocket),
    ...(audioSocket ? ['-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ar', '48000', '-ac', '2', '-f', 'rtp', '-payload_type', '111', rtpUrl(audioSocket)] : []),
  ];
  const ffmpeg: ChildProcess = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  let closed = false;
  ffmpeg.once('exit', (code, signal) => {
    if (!closed) console.error(`[publisher] ffmpeg exited unexpectedly (code ${code}, signal ${signal})`);
  });
  return {
    pc,
    location: session.location,
    encoderPid: ffmpeg.pid,
    connected,
    close: async () => {
      closed = true;
      ffmpeg.kill('SIGKILL');
      videoSocket.close();
      audioSocket?.close();
      await hangUp(session);
    },
    kill: () => {
      closed = true;
      ffmpeg.kill('SIGKILL');
    },
  };
}

export interface ViewerTimings {
  /** performance.now() just before the POST was sent. */
  postAt: number;
  /** performance.now() when the 201 arrived. */
  answerAt: number;
  connectedAt?: number;
  firstRtpAt?: number;
  firstVideoAt?: number;
  /** First video packet that starts an H264 key frame (IDR, or the SPS sent just before it). */
  firstKeyFrameAt?: number;
}

export interface Viewer {
  pc: RTCPeerConnection;
  timings: ViewerTimings;
  video: SequenceTracker;
  audio: SequenceTracker;
  close(): Promise<void>;
}

export interface ViewOptions {
  /** H264 variants offered (payload type, profile-level-id); default the publisher's own numbering: 102/42e01f. */
  h264?: { payloadType: number; profileLevelId: string }[];
  opusPayloadType?: number;
  /**
   * RTCP feedback to negotiate (default both). werift's NACK is aggressive (every lost packet re-requested every
   * 5 ms, up to 10 times, and mediasoup resends each time on loopback), and its transport-cc feedback is costly
   * JS: a synthetic viewer fleet on the server's own machine runs lighter without them.
   */
  feedback?: Feedback;
  /** Detect key frames (parses every video payload header; cheap, but off for the fan-out viewers). */
  keyFrames?: boolean;
  /**
   * Count the RTP of the answer's SSRCs from the clear SRTP header, before werift sees it (no decryption, no
   * werift media path: see udp.ts). Needs installUdpHooks() in this process; key frames are not detected then.
   */
  light?: boolean;
}

/** A recvonly WHEP viewer that keeps counters, not packets. */
export async function view(url: string, options: ViewOptions = {}): Promise<Viewer> {
  const variants = options.h264 ?? [{ payloadType: 102, profileLevelId: '42e01f' }];
  const feedback = options.feedback ?? ALL_FEEDBACK;
  const pc = peer(variants.map((v) => h264(v.payloadType, v.profileLevelId, feedback)), opus(options.opusPayloadType ?? 111), feedback);
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const video = new SequenceTracker();
  const audio = new SequenceTracker();
  const timings: Partial<ViewerTimings> = {};
  pc.onTrack.subscribe((track) => {
    const tracker = track.kind === 'video' ? video : audio;
    track.onReceiveRtp.subscribe((rtp) => {
      const h = rtp.header;
      tracker.packet(h.sequenceNumber, h.marker, rtp.payload.length);
      if (timings.firstRtpAt === undefined) timings.firstRtpAt = performance.now();
      if (track.kind !== 'video') return;
      if (timings.firstVideoAt === undefined) timings.firstVideoAt = performance.now();
      if (options.keyFrames && timings.firstKeyFrameAt === undefined && isH264KeyFrameStart(rtp.payload)) timings.firstKeyFrameAt = performance.now();
    });
  });
  pc.connectionStateChange.subscribe((state) => {
    if (state === 'connected' && timings.connectedAt === undefined) timings.connectedAt = performance.now();
  });
  let session: HttpSession;
  try {
    session = await negotiate(pc, url);
  } catch (error) {
    await pc.close();
    throw error;
  }
  timings.postAt = session.timing.offeredAt;
  timings.answerAt = session.timing.fetchedAt;
  const diverted: { ssrc: number; tracker: SequenceTracker }[] = [];
  let reports: NodeJS.Timeout | undefined;
  if (options.light) {
    const ssrcs = ssrcsByKind(session.answer);
    for (const [kind, tracker] of [['video', video], ['audio', audio]] as const) {
      for (const ssrc of ssrcs[kind]) {
        diverted.push({ ssrc, tracker });
        divertRtp(ssrc, (d) => {
          tracker.packet(d.readUInt16BE(2), ((d[1] as number) & 0x80) !== 0, d.length);
          if (timings.firstRtpAt === undefined) timings.firstRtpAt = performance.now();
          if (kind === 'video' && timings.firstVideoAt === undefined) timings.firstVideoAt = performance.now();
        });
      }
    }
    // werift sends no receiver reports for media it never sees: send ours (from the counters) about every
    // second, as a browser does. They are also what keeps the server's inactivity check satisfied.
    const receiver = pc.getReceivers()[0];
    const sendReports = () => {
      const infos = diverted.flatMap(({ ssrc, tracker }) => {
        const rr = tracker.receiverReport();
        if (!rr) return [];
        const lsr = receiver?.lastSRtimestamp[ssrc] ?? 0;
        const receivedAt = receiver?.receiveLastSRTimestamp[ssrc];
        const dlsr = lsr && receivedAt ? Math.floor((Date.now() / 1000 - receivedAt) * 65536) : 0;
        return [new RtcpReceiverInfo({ ssrc, ...rr, jitter: 0, lsr, dlsr })];
      });
      if (infos.length > 0) receiver?.dtlsTransport.sendRtcp([new RtcpRrPacket({ ssrc: receiver.rtcpSsrc, reports: infos })]).catch(() => undefined);
    };
    reports = setInterval(sendReports, 500 + Math.random() * 1000);
  }
  return {
    pc,
    timings: timings as ViewerTimings,
    video,
    audio,
    close: async () => {
      clearInterval(reports);
      for (const { ssrc } of diverted) stopDiverting(ssrc);
      await hangUp(session);
    },
  };
}

