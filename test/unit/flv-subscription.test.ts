// A feed subscriber hears of the stream's end through its own subscription: its onEnd is called once, also when it
// subscribes to a feed that has already ended (which then does not start its on-demand source again), and
// subscribers add no listener to the feed.
import { describe, expect, it } from 'vitest';
import { FlvFeed } from '../../src/media/flv/FlvFeed.js';

const onDemand = () => {
  const calls: string[] = [];
  return { calls, feed: new FlvFeed('live/s', { audio: true, video: false }, { start: () => calls.push('start'), stop: () => calls.push('stop') }) };
};

describe('FlvFeed subscriptions', () => {
  it("ends each open subscription once, through its own onEnd, and not a closed one's", () => {
    const { feed } = onDemand();
    const ended: string[] = [];
    const subscriptions = ['a', 'b', 'c'].map((name) => ({ name, subscription: feed.subscribe(() => undefined, 'gop', () => ended.push(name)) }));
    subscriptions[1]?.subscription.close();
    expect(feed.listenerCount('end')).toBe(0);
    feed.end();
    feed.end();
    expect(ended).toEqual(['a', 'c']);
  });

  it('ends a subscriber of an ended feed at once, without starting the source', () => {
    const { feed, calls } = onDemand();
    feed.subscribe(() => undefined, 'gop').close();
    feed.end();
    let ended = 0;
    const late = feed.subscribe(() => undefined, 'gop', () => ended++);
    expect(ended).toBe(1);
    late.close();
    expect(calls).toEqual(['start', 'stop']);
  });
});
