// The transcode decision from FLV tags (seed 002's table), on synthetic tags shaped as encoders send them.
import AVPacket from 'node-media-server/src/core/avpacket.js';
import { describe, expect, it } from 'vitest';
import { isVideoKeyFrame, StreamAnalysis, UnsupportedStreamError } from '../../src/rtmp/streamAnalysis.js';

const SPS = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40]);
const PPS = Buffer.from([0x68, 0xeb, 0xe3, 0xcb]);

function tag(type: 8 | 9, bytes: number[], { codec, flags, cts = 0, dts = 0 }: { codec: number; flags: number; cts?: number; dts?: number }): AVPacket {
  const packet = new AVPacket();
  packet.codec_type = type;
  packet.codec_id = codec;
  packet.flags = flags;
  packet.dts = dts;
  packet.pts = dts + cts;
  packet.data = Buffer.from(bytes);
  packet.size = packet.data.length;
  return packet;
}

const avcConfig = [0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, SPS.length, ...SPS, 0x01, 0x00, PPS.length, ...PPS];
const avcSequenceHeader = () => tag(9, [0x17, 0x00, 0, 0, 0, ...avcConfig], { codec: 7, flags: 2 });
const avcKeyFrame = (cts = 0) => tag(9, [0x17, 0x01, 0, 0, cts, 0, 0, 0, 1, 0x65], { codec: 7, flags: 3, cts });
const avcInterFrame = (cts: number, dts: number) => tag(9, [0x27, 0x01, 0, 0, cts, 0, 0, 0, 1, 0x41], { codec: 7, flags: 4, cts, dts });
const aacSequenceHeader = () => tag(8, [0xaf, 0x00, 0x12, 0x10], { codec: 10, flags: 0 });
const aacFrame = () => tag(8, [0xaf, 0x01, 0x21], { codec: 10, flags: 1 });

describe('StreamAnalysis', () => {
  it('H264 without B-frames + AAC → copy video, transcode audio; the SPS and profile come from the sequence header', () => {
    const analysis = new StreamAnalysis();
    expect(analysis.add(aacSequenceHeader())).toBeUndefined();
    expect(analysis.add(avcSequenceHeader())).toBeUndefined();
    const plan = analysis.add(avcKeyFrame());
    expect(plan).toEqual({ transcode: 'audio', video: { copy: true, profileLevelId: '64001f' }, audio: true, reason: 'H264 without B-frames' });
    expect(analysis.sps).toEqual(SPS);
  });

  it('B-frames (a composition-time offset) → re-encode video', () => {
    const analysis = new StreamAnalysis();
    analysis.add(avcSequenceHeader());
    expect(analysis.add(avcKeyFrame(66))).toMatchObject({ transcode: 'video', video: { copy: false }, reason: 'H264 with B-frames' });
  });

  it('a codec other than H264 → re-encode; video-only without B-frames → nothing', () => {
    const flv1 = new StreamAnalysis();
    expect(flv1.add(tag(9, [0x12, 0x00], { codec: 2, flags: 4 }))).toMatchObject({ transcode: 'video', reason: 'video codec 2 is not H264' });
    const plain = new StreamAnalysis();
    plain.add(avcSequenceHeader());
    expect(plain.add(avcKeyFrame())?.transcode).toBe('none');
  });

  it('audio only: decided after enough audio tags', () => {
    const analysis = new StreamAnalysis();
    analysis.add(aacSequenceHeader());
    let plan;
    for (let i = 0; i < 60 && !plan; i++) plan = analysis.add(aacFrame());
    expect(plan).toEqual({ transcode: 'audio', video: undefined, audio: true, reason: 'audio only' });
  });

  it('HEVC over enhanced RTMP is refused with a reason', () => {
    const analysis = new StreamAnalysis();
    const hevc = tag(9, [0x91, 0x68, 0x76, 0x63, 0x31], { codec: 0x68766331, flags: 3 });
    expect(() => analysis.add(hevc)).toThrow(UnsupportedStreamError);
  });

  it('B-frames announced after the key frame, before the decision, still count', () => {
    const analysis = new StreamAnalysis();
    analysis.add(avcSequenceHeader());
    expect(analysis.add(avcInterFrame(33, 100))).toBeUndefined();
    expect(analysis.add(avcKeyFrame())?.video?.copy).toBe(false);
  });

  it('key frames are recognised for every codec', () => {
    expect(isVideoKeyFrame(avcKeyFrame())).toBe(true);
    expect(isVideoKeyFrame(avcSequenceHeader())).toBe(false);
    expect(isVideoKeyFrame(tag(9, [0x12, 0x00], { codec: 2, flags: 4 }))).toBe(true);
    expect(isVideoKeyFrame(tag(9, [0x22, 0x00], { codec: 2, flags: 4 }))).toBe(false);
  });
});
