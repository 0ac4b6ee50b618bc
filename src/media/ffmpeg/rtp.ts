// FFmpeg sending H264 and Opus as plain RTP into the SFU (the RTMP bridge, the transcoder's renditions): the tracks
// of the plain publisher, each sent from fixed local ports so that a restarted FFmpeg is accepted by the same
// producers, and the RTP URL FFmpeg sends each track to.
import { randomInt } from 'node:crypto';
import type { PlainEndpoint, PlainTrackSpec } from '../../../sfu/index.js';
import { freeUdpPortPair } from './udpPorts.js';

const VIDEO_PT = 102;
const AUDIO_PT = 111;

/** Where one track's RTP goes, and the fixed local ports FFmpeg sends it from (the SFU expects them). */
export interface RtpTarget {
  ip: string;
  port: number;
  rtcpPort: number;
  localPort: number;
  payloadType: number;
  ssrc: number;
  /** A simulcast track's layers below `ssrc`, lowest first (the WebRTC ladder). */
  lowerLayerSsrcs?: number[];
}

/**
 * The plain publisher's tracks: H264 with this profile-level-id (when there is video; with `lowerLayers` simulcast
 * layers below the top one), Opus stereo (when there is audio).
 */
export async function h264OpusTracks(tracks: { profileLevelId: string | undefined; audio: boolean; lowerLayers?: number }): Promise<PlainTrackSpec[]> {
  const specs: PlainTrackSpec[] = [];
  if (tracks.profileLevelId !== undefined) {
    const port = await freeUdpPortPair();
    specs.push({
      kind: 'video',
      codec: { mimeType: 'video/H264', payloadType: VIDEO_PT, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': tracks.profileLevelId, 'level-asymmetry-allowed': 1 } },
      ssrc: randomInt(1, 2 ** 31),
      ...(tracks.lowerLayers ? { lowerLayerSsrcs: Array.from({ length: tracks.lowerLayers }, () => randomInt(1, 2 ** 31)) } : {}),
      source: { ip: '127.0.0.1', port, rtcpPort: port + 1 },
    });
  }
  if (tracks.audio) {
    const port = await freeUdpPortPair();
    specs.push({
      kind: 'audio',
      codec: { mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } },
      ssrc: randomInt(1, 2 ** 31),
      source: { ip: '127.0.0.1', port, rtcpPort: port + 1 },
    });
  }
  return specs;
}

/** Where FFmpeg sends each track of a plain publisher created from these specs (its endpoints are in their order). */
export function rtpTargets(endpoints: readonly PlainEndpoint[], specs: readonly PlainTrackSpec[]): { video?: RtpTarget; audio?: RtpTarget } {
  const targets: { video?: RtpTarget; audio?: RtpTarget } = {};
  endpoints.forEach((endpoint, i) => {
    const spec = specs[i];
    if (!spec) return;
    targets[spec.kind] = { ip: endpoint.ip, port: endpoint.port, rtcpPort: endpoint.rtcpPort, localPort: spec.source.port, payloadType: spec.codec.payloadType, ssrc: spec.ssrc, ...(spec.lowerLayerSsrcs ? { lowerLayerSsrcs: spec.lowerLayerSsrcs } : {}) };
  });
  return targets;
}

export function rtpUrl(target: Pick<RtpTarget, 'ip' | 'port' | 'rtcpPort' | 'localPort'>): string {
  return `rtp://${target.ip}:${target.port}?rtcpport=${target.rtcpPort}&localrtpport=${target.localPort}&localrtcpport=${target.localPort + 1}&pkt_size=1200`;
}
