// The stream feed that follows the active publisher (SwitchingFeed): whatever the order of source changes, gaps and
// tags, a subscriber sees timestamps that never go back, nothing of a source that is no longer followed, and, after
// each change, the new source's sequence header before its first frame, which is a key frame.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlvFeed } from '../../src/media/flv/FlvFeed.js';
import { SwitchingFeed } from '../../src/media/flv/SwitchingFeed.js';
import { isKeyFrame, isSequenceHeader, TAG_VIDEO, type FlvTag } from '../../src/media/flv/tag.js';

/** An AVC tag: a sequence header naming its source, a key frame or an inter frame; its source in the payload. */
function avc(kind: 'header' | 'key' | 'inter', source: number, timestamp: number): FlvTag {
  const first = kind === 'inter' ? 0x27 : 0x17;
  const packetType = kind === 'header' ? 0 : 1;
  const body = kind === 'header' ? [1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0] : [source];
  return { type: TAG_VIDEO, timestamp, data: Buffer.from([first, packetType, 0, 0, 0, ...body, source]) };
}
const sourceOf = (tag: FlvTag): number => tag.data[tag.data.length - 1] ?? -1;

type Step = { op: 'push'; source: number; key: boolean; advanceMs: number } | { op: 'follow'; source: number | undefined };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('push' as const), source: fc.integer({ min: 0, max: 2 }), key: fc.boolean(), advanceMs: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('follow' as const), source: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) }) },
);

describe('SwitchingFeed', () => {
  it('carries only the followed source, from its header and a key frame, with timestamps that never go back', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        // Each source starts its own timeline somewhere else (an encoder's clock), and has sent its header.
        const sources = [0, 1, 2].map((i) => new FlvFeed(`s${i}`, { audio: false, video: true }));
        const clocks = [5000, 0, 123456];
        sources.forEach((s, i) => s.push(avc('header', i, clocks[i] ?? 0)));
        const feed = new SwitchingFeed('live/stream', { audio: false, video: true });
        const seen: FlvTag[] = [];
        const subscription = feed.subscribe((tag) => seen.push(tag), 'gop');
        let followed: number | undefined;
        let frameOk = true;
        let expectHeaderFrom: number | undefined;
        let lastTimestamp = -1;
        feed.follow(undefined);
        for (const s of steps) {
          if (s.op === 'follow') {
            if (s.source !== followed && s.source !== undefined) expectHeaderFrom = s.source;
            followed = s.source;
            feed.follow(s.source === undefined ? undefined : sources[s.source]);
            continue;
          }
          clocks[s.source] = (clocks[s.source] ?? 0) + s.advanceMs;
          const before = seen.length;
          sources[s.source]?.push(avc(s.key ? 'key' : 'inter', s.source, clocks[s.source] ?? 0));
          for (const tag of seen.slice(before)) {
            if (sourceOf(tag) !== followed) frameOk = false;
          }
        }
        let awaitingKey = false;
        for (const tag of seen) {
          if (tag.timestamp < lastTimestamp) return false;
          lastTimestamp = tag.timestamp;
          if (isSequenceHeader(tag)) awaitingKey = true;
          else if (awaitingKey) {
            if (!isKeyFrame(tag)) return false;
            awaitingKey = false;
          }
        }
        subscription.close();
        expect(expectHeaderFrom === undefined || seen.some((t) => isSequenceHeader(t))).toBe(true);
        return frameOk;
      }),
      { numRuns: 300 },
    );
  });

  it('ends with the stream, not with a source', () => {
    const source = new FlvFeed('s', { audio: false, video: true });
    const feed = new SwitchingFeed('live/stream', { audio: false, video: true });
    let ended = 0;
    feed.subscribe(() => undefined, 'gop', () => ended++);
    feed.follow(source);
    source.end();
    expect(ended).toBe(0);
    feed.end();
    expect(ended).toBe(1);
  });
});
