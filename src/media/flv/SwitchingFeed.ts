// A stream's feed for the standard-latency side that outlives its publishers: it carries the tags of one source feed
// at a time (the active publisher's: its RTMP tags, or the SFU egress of a WebRTC one) and goes on across a change
// of source and across a gap with none, so HLS players, HTTP-FLV players, relays and recorders keep their one
// subscription. At a change it takes the new source from its sequence headers and next key frame, and moves its
// timeline on from the last tag (FlvFeed.discontinuity). It reads its source only while it has subscribers.
import { FlvFeed, type FeedDemand, type FeedStart, type FeedSubscription, type FeedTracks, type FlvSource } from './FlvFeed.js';
import type { FlvTag } from './tag.js';

/** The subscription to the source being carried, held while the feed has subscribers of its own. */
class SourceReader implements FeedDemand {
  source: FlvSource | undefined;
  private subscription: FeedSubscription | undefined;
  private demanded = false;

  constructor(private readonly onTag: (tag: FlvTag) => void) {}

  get reading(): boolean {
    return this.subscription !== undefined;
  }

  start(): void {
    this.demanded = true;
    this.read('gop');
  }

  stop(): void {
    this.demanded = false;
    this.read('gop');
  }

  /** From a source that was being sent, at its next key frame (no replay of what it sent before); else from its GOP. */
  read(start: FeedStart): void {
    this.subscription?.close();
    this.subscription = undefined;
    const source = this.source;
    if (!this.demanded || !source || source.ended) return;
    const subscription = source.subscribe(this.onTag, start, () => {
      if (this.subscription === subscription) this.subscription = undefined;
    });
    this.subscription = subscription;
  }

  close(): void {
    this.demanded = false;
    this.read('gop');
  }
}

export class SwitchingFeed extends FlvFeed {
  private readonly reader: SourceReader;

  constructor(name: string, tracks: FeedTracks) {
    const reader = new SourceReader((tag) => this.push(tag));
    super(name, tracks, reader);
    this.reader = reader;
  }

  /** Carries `source` from now on (undefined: nothing, until the next one). */
  follow(source: FlvSource | undefined): void {
    if (source === this.reader.source || this.ended) return;
    const switching = this.reader.reading;
    this.reader.source = source;
    // Another source's timeline: moved on from the last tag sent (a no-op before the first).
    this.discontinuity();
    this.reader.read(switching ? 'keyframe' : 'gop');
  }

  override end(): void {
    this.reader.close();
    super.end();
  }
}
