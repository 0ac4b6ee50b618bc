// A WHIP publisher carrying the time code (bench/lib/rtmp-timecode.ts): the generator's raw frames, encoded by the
// same x264 arguments as the RTMP encoder (rtmp-generator.ts) but written as RTP (H264, plus Opus from a sine
// tone) to loopback sockets, from which a werift RTCPeerConnection sends them on over WHIP, as a browser or OBS
// would. The encoder ignores PLI: key frames come every `gop` frames.
import { spawn, type ChildProcess } from 'node:child_process';
import { MediaStreamTrack } from 'werift';
import { negotiate, rtpReceiver, rtpUrl } from '../../test/helpers/werift.js';
import { rawInputArgs, x264Args, type EncoderSettings } from './rtmp-generator.js';
import { h264, hangUp, opus, peer } from './webrtc.js';

/** The SDP profile of x264's default (High) at level 3.1: what the encoder actually sends. */
const HIGH_PROFILE = '64001f';
const VIDEO_SSRC = 0x5eed0001;
const AUDIO_SSRC = 0x5eed0002;

export interface TimeCodePublisher {
  location: string;
  encoder: ChildProcess;
  connected: Promise<void>;
  close: () => Promise<void>;
}

/** Publishes the frames the generator writes into `fifo` to the WHIP endpoint `url`; `track` registers the encoder. */
export async function publishTimeCode(url: string, fifo: string, settings: EncoderSettings, track: (child: ChildProcess) => ChildProcess): Promise<TimeCodePublisher> {
  const pc = peer([h264(102, HIGH_PROFILE)], opus(111));
  const videoTrack = new MediaStreamTrack({ kind: 'video' });
  pc.addTransceiver(videoTrack, { direction: 'sendonly' });
  const audioTrack = settings.audio ? new MediaStreamTrack({ kind: 'audio' }) : undefined;
  if (audioTrack) pc.addTransceiver(audioTrack, { direction: 'sendonly' });
  const session = await negotiate(pc, url);
  const connected = pc.connectionState === 'connected' ? Promise.resolve() : pc.connectionStateChange.watch((s) => s === 'connected').then(() => undefined);
  const videoSocket = await rtpReceiver((packet) => videoTrack.writeRtp(packet));
  const audioSocket = audioTrack ? await rtpReceiver((packet) => audioTrack.writeRtp(packet)) : undefined;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    ...rawInputArgs(fifo),
    ...(audioSocket ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
    '-map', '0:v', ...x264Args(settings),
    '-f', 'rtp', '-payload_type', '102', '-ssrc', String(VIDEO_SSRC), rtpUrl(videoSocket),
    ...(audioSocket
      ? ['-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ar', '48000', '-ac', '2', '-f', 'rtp', '-payload_type', '111', '-ssrc', String(AUDIO_SSRC), rtpUrl(audioSocket)]
      : []),
  ];
  const encoder = track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  let closed = false;
  encoder.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  encoder.once('exit', (code, signal) => {
    if (!closed) console.error(`[whip encoder] ffmpeg exited (code ${code}, signal ${signal}): ${stderr.trim()}`);
  });
  return {
    location: session.location,
    encoder,
    connected,
    close: async () => {
      closed = true;
      encoder.kill('SIGKILL');
      videoSocket.close();
      audioSocket?.close();
      await hangUp(session);
    },
  };
}
