// FLV tags and the per-stream feed: tag classification, byte format round trip through node-media-server's parser,
// where late subscribers start, and monotonic timestamps across a source restart.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FlvFeed } from '../../src/media/flv/FlvFeed.js';
import { arrivalRetimer } from '../../src/media/flv/retime.js';
import { resizingFlv } from '../helpers/encoder.js';
import { encodeTag, flvHeader, FlvDemuxer, isKeyFrame, isSequenceHeader, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type FlvTag } from '../../src/media/flv/tag.js';

const run = promisify(execFile);

const avcHeader = (t = 0): FlvTag => ({ type: TAG_VIDEO, timestamp: t, data: Buffer.from([0x17, 0, 0, 0, 0, 1, 0x42]) });
const key = (t: number): FlvTag => ({ type: TAG_VIDEO, timestamp: t, data: Buffer.from([0x17, 1, 0, 0, 0, 0xaa]) });
const inter = (t: number): FlvTag => ({ type: TAG_VIDEO, timestamp: t, data: Buffer.from([0x27, 1, 0, 0, 0, 0xbb]) });
const aacHeader = (t = 0): FlvTag => ({ type: TAG_AUDIO, timestamp: t, data: Buffer.from([0xaf, 0, 0x11, 0x90]) });
const aac = (t: number): FlvTag => ({ type: TAG_AUDIO, timestamp: t, data: Buffer.from([0xaf, 1, 0x21]) });
const metadata: FlvTag = { type: TAG_SCRIPT, timestamp: 0, data: Buffer.from('onMetaData') };

describe('FLV tags', () => {
  it('tells key frames and sequence headers apart', () => {
    expect(isSequenceHeader(avcHeader())).toBe(true);
    expect(isKeyFrame(avcHeader())).toBe(false); // flagged "key" in FLV, but it is configuration
    expect(isKeyFrame(key(0))).toBe(true);
    expect(isKeyFrame(inter(0))).toBe(false);
    expect(isSequenceHeader(aacHeader())).toBe(true);
    expect(isSequenceHeader(aac(0))).toBe(false);
  });

  it('encodes tags that the FLV parser reads back, including 32-bit timestamps', () => {
    const tags = [metadata, avcHeader(), key(40), aac(0x01020304)];
    const parsed: FlvTag[] = [];
    const demuxer = new FlvDemuxer((tag) => parsed.push(tag));
    const bytes = Buffer.concat([flvHeader(true, true), ...tags.map(encodeTag)]);
    // Fed in small pieces, as a pipe delivers them.
    for (let i = 0; i < bytes.length; i += 7) expect(demuxer.write(bytes.subarray(i, i + 7))).toBeUndefined();
    expect(parsed).toEqual(tags);
    expect(new FlvDemuxer(() => undefined).write(Buffer.concat([flvHeader(true, true), Buffer.from([9, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 99])]))).toMatch(/error/);
  });
});

describe('FlvFeed', () => {
  it('starts a late subscriber with the headers and the current GOP, or at the next key frame', () => {
    const feed = new FlvFeed('live/a', { audio: true, video: true });
    for (const tag of [metadata, avcHeader(), aacHeader(), inter(0), key(40), aac(41), inter(80)]) feed.push(tag);
    const fromGop: FlvTag[] = [];
    feed.subscribe((t) => fromGop.push(t), 'gop');
    expect(fromGop.map((t) => t.timestamp)).toEqual([0, 0, 0, 40, 41, 80]);
    expect(fromGop[3]).toEqual(key(40)); // the inter frame before the key frame is not kept

    const fromKey: FlvTag[] = [];
    feed.subscribe((t) => fromKey.push(t), 'keyframe');
    feed.push(aac(90)); // before the next key frame: not delivered
    feed.push(key(120));
    feed.push(inter(160));
    expect(fromKey.map((t) => t.timestamp)).toEqual([0, 0, 0, 120, 160]);
  });

  it('keeps timestamps monotonic when its source restarts from zero', () => {
    const feed = new FlvFeed('live/b', { audio: false, video: true });
    const seen: number[] = [];
    feed.subscribe((t) => seen.push(t.timestamp), 'keyframe');
    feed.push(key(1000));
    feed.push(inter(1040));
    feed.discontinuity();
    feed.push(key(0));
    feed.push(inter(40));
    expect(seen).toEqual([1000, 1040, 1080, 1120]);
  });

  it('runs an on-demand source only while someone subscribes, and ends subscribers with the stream', () => {
    const calls: string[] = [];
    const feed = new FlvFeed('live/c', { audio: true, video: false }, { start: () => calls.push('start'), stop: () => calls.push('stop') });
    const a = feed.subscribe(() => undefined, 'gop');
    const b = feed.subscribe(() => undefined, 'gop');
    a.close();
    expect(calls).toEqual(['start']);
    b.close();
    expect(calls).toEqual(['start', 'stop']);
    let ended = false;
    feed.subscribe(() => undefined, 'gop');
    feed.once('end', () => (ended = true));
    feed.end();
    expect(ended).toBe(true);
    expect(calls).toEqual(['start', 'stop', 'start', 'stop']);
  });
});

describe('arrival timestamps (the RTMP bridge, rtmp.timestamps: arrival)', () => {
  it('stamps each tag with its arrival, spreads a burst 1 ms apart per track, and keeps the body', () => {
    let clock = 5000;
    const retime = arrivalRetimer(() => clock);
    const b = inter(900);
    expect(retime(key(800)).timestamp).toBe(0);
    expect(retime(aac(790)).timestamp).toBe(0); // audio has its own sequence
    expect(retime(b).timestamp).toBe(1); // same instant: 1 ms after the previous video tag
    expect(retime(b).data).toBe(b.data); // composition offset and payload untouched
    clock += 40;
    expect(retime(inter(833)).timestamp).toBe(40); // the encoder's timestamp (even going back) does not matter
    clock += 25.4;
    expect(retime(aac(823)).timestamp).toBe(65);
    clock -= 10; // a clock never goes back, but the output would not either
    expect(retime(inter(866)).timestamp).toBe(55);
    expect(retime(inter(899)).timestamp).toBe(56);
  });
});

describe('a source that changes its video size mid-stream', () => {
  it("puts the new SPS/PPS in front of every later key frame, so that FFmpeg's copies (Annex B, as for the RTMP bridge) decode the new size; says so at its first key frame", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whipcast-flv-'));
    try {
      const source = await readFile(await resizingFlv(dir, [{ size: '640x360', seconds: 2 }, { size: '480x360', seconds: 2 }]));
      const feed = new FlvFeed('live/resize', { audio: true, video: true });
      const out: Buffer[] = [flvHeader(true, true)];
      feed.subscribe((tag) => out.push(encodeTag(tag)), 'keyframe');
      let changes = 0;
      let gopAtChange: FlvTag[] = [];
      feed.on('videoConfig', () => {
        changes++;
        feed.subscribe((tag) => gopAtChange.push(tag), 'gop').close();
      });
      new FlvDemuxer((tag) => feed.push(tag)).write(source);
      expect(changes).toBe(1);
      // A subscriber starting then gets the new header, and a GOP of the new size only (its one key frame first).
      gopAtChange = gopAtChange.filter((t) => t.type === TAG_VIDEO && !isSequenceHeader(t));
      expect(gopAtChange.map(isKeyFrame)).toEqual([true]);

      const file = join(dir, 'through-feed.flv');
      await writeFile(file, Buffer.concat(out));
      const { stdout } = await run('sh', ['-c', `ffmpeg -v error -i ${file} -map 0:v -c:v copy -bsf:v h264_mp4toannexb -f h264 - | ffprobe -v error -show_entries frame=width,height -of csv=p=0 -`]);
      const sizes = stdout.split('\n').filter((l) => /^\d+,\d+$/.test(l.trim()));
      expect(sizes.length).toBeGreaterThanOrEqual(116);
      expect(sizes.filter((s) => s === '640,360').length).toBeGreaterThanOrEqual(58);
      expect(sizes.filter((s) => s === '480,360').length).toBeGreaterThanOrEqual(58);
      expect(sizes.at(-1)).toBe('480,360');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
