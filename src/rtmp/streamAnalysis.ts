// Decides, from the FLV tags that actually arrive (not from the encoder's metadata), what a stream needs before
// WebRTC viewers can take it (seed 002): B-frames or a codec browsers cannot decode → re-encode video to H264
// without B-frames; AAC (any audio that is not Opus) → Opus; otherwise copy.
import type AVPacket from 'node-media-server/src/core/avpacket.js';

export type TranscodePath = 'none' | 'audio' | 'video' | 'video+audio';

const FLV_AUDIO = 8;
const FLV_VIDEO = 9;
const AVC = 7;
const FOURCC_HEVC = 0x68766331; // 'hvc1' (enhanced RTMP)

export interface StreamPlan {
  transcode: TranscodePath;
  video: { copy: boolean; profileLevelId: string } | undefined;
  audio: boolean;
  /** Why video is re-encoded, for the log. */
  reason: string;
}

/** A video key frame, whatever the codec (node-media-server flags key frames of H264 only). */
export function isVideoKeyFrame(packet: AVPacket): boolean {
  if (packet.codec_type !== FLV_VIDEO || ((packet.data[0] ?? 0) >> 4 & 0x07) !== 1) return false;
  return !(packet.codec_id === AVC && packet.data[1] === 0); // an AVC sequence header is marked "key" too
}

export class UnsupportedStreamError extends Error {
  override name = 'UnsupportedStreamError';
}

/** Watches the first tags of a publish until it can decide: at the first video key frame (or after enough audio-only tags). */
export class StreamAnalysis {
  private videoCodec: number | undefined;
  private audioSeen = false;
  private bFrames = false;
  private avcConfig: Buffer | undefined;
  private audioOnlyTags = 0;

  /** Returns the plan once the stream says enough, else undefined. */
  add(packet: AVPacket): StreamPlan | undefined {
    if (packet.codec_type === FLV_AUDIO) {
      this.audioSeen = true;
      if (this.videoCodec === undefined && ++this.audioOnlyTags >= 50) return this.plan();
      return undefined;
    }
    if (packet.codec_type !== FLV_VIDEO) return undefined;
    this.videoCodec = packet.codec_id;
    if (packet.flags === 2 && packet.codec_id === AVC) this.avcConfig = packet.data.subarray(5);
    // A composition-time offset means frames are reordered: the stream has B-frames.
    if (packet.pts !== packet.dts) this.bFrames = true;
    return isVideoKeyFrame(packet) ? this.plan() : undefined;
  }

  /** The SPS of the AVC sequence header (AVCDecoderConfigurationRecord), to compare with what viewers receive. */
  get sps(): Buffer | undefined {
    const config = this.avcConfig;
    if (!config || config.length < 8 || ((config[5] ?? 0) & 0x1f) === 0) return undefined;
    const length = config.readUInt16BE(6);
    return config.subarray(8, 8 + length);
  }

  private plan(): StreamPlan {
    if (this.videoCodec === FOURCC_HEVC) {
      throw new UnsupportedStreamError('HEVC over enhanced RTMP cannot be decoded by the installed FFmpeg (Debian 12 has 5.1); publish H264');
    }
    const audio = this.audioSeen;
    if (this.videoCodec === undefined) return { transcode: audio ? 'audio' : 'none', video: undefined, audio, reason: 'audio only' };
    const config = this.avcConfig;
    const copy = this.videoCodec === AVC && !this.bFrames && config !== undefined && config.length >= 4;
    const profileLevelId = copy && config ? config.subarray(1, 4).toString('hex') : '4d001f';
    const reason = copy ? 'H264 without B-frames' : this.videoCodec !== AVC ? `video codec ${this.videoCodec} is not H264` : this.bFrames ? 'H264 with B-frames' : 'H264 without a sequence header';
    const transcode: TranscodePath = copy ? (audio ? 'audio' : 'none') : audio ? 'video+audio' : 'video';
    return { transcode, video: { copy, profileLevelId }, audio, reason };
  }
}
