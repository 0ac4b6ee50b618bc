// Real WebRTC clients for tests, built on werift (pure TypeScript; moves RTP, no codecs): a WHIP publisher fed
// by `ffmpeg -f rtp` and a WHEP viewer that records the RTP it receives.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useAbsSendTime,
  useSdesMid,
  useTransportWideCC,
  type RtpPacket,
} from 'werift';
import { TEST_MEDIA_LIMIT } from './encoder.js';
import { negotiate as negotiateSession, type NegotiatedSession } from './whip-whep.js';

export type VideoCodec = 'H264' | 'VP8';

const videoCodec = (codec: VideoCodec, payloadType?: number): RTCRtpCodecParameters =>
  codec === 'H264'
    ? new RTCRtpCodecParameters({
        mimeType: 'video/H264',
        clockRate: 90000,
        payloadType: payloadType ?? 102,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'transport-cc' }],
        parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      })
    : new RTCRtpCodecParameters({
        mimeType: 'video/VP8',
        clockRate: 90000,
        payloadType: payloadType ?? 96,
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'transport-cc' }],
      });
const opus = (payloadType = 111): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType, parameters: 'minptime=10;useinbandfec=1' });

/**
 * werift gathers every interface's address as well as loopback's; checks from those would reach the server with a
 * non-loopback source, and the server would answer to it. Only loopback pairs are checked.
 */
export const LOOPBACK_ONLY = {
  iceUseIpv6: false,
  iceFilterCandidatePair: (pair: { localCandidate: { host: string } }) => pair.localCandidate.host === '127.0.0.1',
} as const;

function peer(video: RTCRtpCodecParameters[], audio = opus()): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: { audio: [audio], video },
    headerExtensions: { audio: [useSdesMid()], video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()] },
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    ...LOOPBACK_ONLY,
  });
}

/** A session the server created (Location, ETag, answer), with the connection it negotiated. */
export type HttpSession = NegotiatedSession<RTCPeerConnection>;

/** Offer with every candidate in it (no trickle), POST, answer applied: how the werift peers of tests and benches join. */
export function negotiate(pc: RTCPeerConnection, url: string, token?: string): Promise<HttpSession> {
  return negotiateSession(pc, url, { token, gather: true });
}

export interface Publisher {
  pc: RTCPeerConnection;
  session: HttpSession;
  connected: Promise<void>;
  close(): Promise<void>;
}

export interface PublishOptions {
  video?: VideoCodec;
  audio?: boolean;
  token?: string;
  /** Key-frame interval of the ffmpeg encoder, in frames at 30 fps. */
  gop?: number;
}

/**
 * Publishes a synthetic test pattern (and a tone) over WHIP: ffmpeg encodes it to RTP, werift sends it on.
 * Resolves once the connection is up.
 *
 * werift's DTLS, as the server of the handshake (our answers make it that), now and then never completes on a loaded
 * machine: about once per full run, ICE up and then silence until the server drops the session. Such a publisher
 * is hung up (DELETE) and made again, once, with a warning in the test's output.
 */
export async function publish(url: string, options: PublishOptions = {}): Promise<Publisher> {
  const publisher = await connectedOrRemade(`werift publisher to ${url}`, () => startPublisher(url, options));
  await publisher.connected;
  return publisher;
}

/** A peer made by `make`, or, when its connection is not up within CONNECT_MS, hung up and made once more. */
async function connectedOrRemade<T extends { pc: RTCPeerConnection; session: HttpSession; close(): Promise<void> }>(what: string, make: () => Promise<T>): Promise<T> {
  const first = await make();
  const state = await connectedWithin(first.pc, CONNECT_MS);
  if (state === 'connected') return first;
  console.warn(`${what}: ${state} after ${CONNECT_MS} ms (ICE ${first.pc.iceConnectionState}); hung up and made again`);
  await first.close();
  await first.session.delete().catch(() => undefined); // the server may have dropped it already
  return make();
}

/** Far longer than werift takes on a busy machine (~120 ms idle, seconds at worst). */
const CONNECT_MS = 10_000;

async function connectedWithin(pc: RTCPeerConnection, timeoutMs: number): Promise<string> {
  if (pc.connectionState === 'connected') return 'connected';
  let timer: NodeJS.Timeout | undefined;
  const ended = pc.connectionStateChange.watch((s) => s === 'connected' || s === 'failed' || s === 'closed');
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(pc.connectionState), timeoutMs);
  });
  try {
    return await Promise.race([ended.then(() => pc.connectionState as string), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function startPublisher(url: string, options: PublishOptions): Promise<Publisher> {
  const video = options.video ?? 'H264';
  const pc = peer([videoCodec(video)]);
  const videoTrack = new MediaStreamTrack({ kind: 'video' });
  pc.addTransceiver(videoTrack, { direction: 'sendonly' });
  const audioTrack = options.audio === false ? undefined : new MediaStreamTrack({ kind: 'audio' });
  if (audioTrack) pc.addTransceiver(audioTrack, { direction: 'sendonly' });

  const session = await negotiate(pc, url, options.token);
  const feed = await RtpFeed.start(video, options.gop ?? 30, (kind, packet) => (kind === 'video' ? videoTrack : audioTrack)?.writeRtp(packet), audioTrack !== undefined);
  const connected = pc.connectionState === 'connected' ? Promise.resolve() : pc.connectionStateChange.watch((s) => s === 'connected').then(() => undefined);
  return {
    pc,
    session,
    connected,
    close: async () => {
      if (pc.connectionState === 'closed') return; // closed already (a test may hang up before its cleanup does)
      feed.stop();
      await pc.close();
    },
  };
}

export interface Viewer {
  pc: RTCPeerConnection;
  session: HttpSession;
  packets: { audio: RtpPacket[]; video: RtpPacket[] };
  connectionState(): string;
  close(): Promise<void>;
}

/**
 * Plays a stream over WHEP with recvonly audio and video, recording every RTP packet. Resolves once the connection
 * is up; a viewer whose DTLS never completes (the werift fault `publish` describes) is hung up and made again, once.
 */
export function view(url: string, options: ViewOptions = {}): Promise<Viewer> {
  return connectedOrRemade(`werift viewer of ${url}`, () => startViewer(url, options));
}

export interface ViewOptions {
  video?: VideoCodec[];
  token?: string;
  /** Number codecs differently from the publisher helper (which uses H264 102, VP8 96, opus 111). */
  payloadTypes?: { H264?: number; VP8?: number; opus?: number };
  /** Offer RTX for each video codec, under these payload types. */
  rtxPayloadTypes?: { H264?: number; VP8?: number };
}

async function startViewer(url: string, options: ViewOptions): Promise<Viewer> {
  const pts = options.payloadTypes ?? {};
  const rtx = options.rtxPayloadTypes ?? {};
  const video = (options.video ?? ['H264', 'VP8']).flatMap((c) => {
    const codec = videoCodec(c, pts[c]);
    const rtxPayloadType = rtx[c];
    return rtxPayloadType === undefined ? [codec] : [codec, new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: rtxPayloadType, parameters: `apt=${codec.payloadType}` })];
  });
  const pc = peer(video, opus(pts.opus));
  const packets: Viewer['packets'] = { audio: [], video: [] };
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => (track.kind === 'audio' ? packets.audio : packets.video).push(rtp.clone()));
  });
  const session = await negotiate(pc, url, options.token);
  return { pc, session, packets, connectionState: () => pc.connectionState, close: () => pc.close() };
}

// Feeds must not outlive the test process, even when a test fails before closing its publisher. A test process
// killed by its pool runs no 'exit' handler: TEST_MEDIA_LIMIT ends such an orphan by itself.
const runningFeeds = new Set<ChildProcess>();
process.once('exit', () => {
  for (const ffmpeg of runningFeeds) ffmpeg.kill('SIGKILL');
});

/** ffmpeg encoding a test pattern (+ tone) to RTP on loopback; each packet is handed to `sink`. */
class RtpFeed {
  private constructor(
    private readonly ffmpeg: ChildProcess,
    private readonly sockets: Socket[],
  ) {}

  static async start(video: VideoCodec, gop: number, sink: (kind: 'audio' | 'video', packet: Buffer) => void, withAudio: boolean): Promise<RtpFeed> {
    const videoSocket = await rtpReceiver((packet) => sink('video', packet));
    const audioSocket = withAudio ? await rtpReceiver((packet) => sink('audio', packet)) : undefined;
    const encoder = video === 'H264'
      ? ['-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-bf', '0', '-pix_fmt', 'yuv420p']
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '500k'];
    const args = [
      '-hide_banner', '-loglevel', 'error', '-re',
      ...TEST_MEDIA_LIMIT,
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30',
      ...(audioSocket ? [...TEST_MEDIA_LIMIT, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
      '-map', '0:v', ...encoder, '-g', String(gop), '-f', 'rtp', '-payload_type', '96', rtpUrl(videoSocket),
      ...(audioSocket ? ['-map', '1:a', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-f', 'rtp', '-payload_type', '111', rtpUrl(audioSocket)] : []),
    ];
    const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    runningFeeds.add(ffmpeg);
    ffmpeg.once('exit', () => runningFeeds.delete(ffmpeg));
    return new RtpFeed(ffmpeg, audioSocket ? [videoSocket, audioSocket] : [videoSocket]);
  }

  stop(): void {
    this.ffmpeg.kill('SIGKILL');
    for (const s of this.sockets) s.close();
  }
}

/**
 * ffmpeg's RTP muxer sends its sender reports to the RTP port + 1 unless told otherwise: a port some other test's
 * socket may hold. They come to the RTP socket instead, and are dropped there.
 */
export const rtpUrl = (socket: Socket) => `rtp://127.0.0.1:${port(socket)}?pkt_size=1200&rtcpport=${port(socket)}`;
/** RTCP packet types 200–207 share the second byte's range with no RTP payload type used here. */
const isRtcp = (packet: Buffer) => packet.length > 1 && packet[1]! >= 200 && packet[1]! <= 207;

/** A loopback UDP socket for ffmpeg's RTP output (see rtpUrl): hands on its RTP packets, drops its RTCP. */
export function rtpReceiver(onRtp: (packet: Buffer) => void): Promise<Socket> {
  return bound((packet) => {
    if (!isRtcp(packet)) onRtp(packet);
  });
}

/** A UDP socket on a free loopback port, handing every datagram to `onPacket`. */
export function bound(onPacket: (packet: Buffer) => void): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.on('message', onPacket);
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });
}

export function port(socket: Socket): number {
  return socket.address().port;
}
