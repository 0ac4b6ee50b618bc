// A stream's feed for the standard-latency side that outlives its publishers: it carries the tags of one source feed
// at a time (the active publisher's: its RTMP tags, or the SFU egress of a WebRTC one) and goes on across a change
// of source and across a gap with none, so HLS players, HTTP-FLV players, relays and recorders keep their one
// subscription. At a change it takes the new source from its sequence headers and next key frame, and moves its
// timeline on from the last tag (FlvFeed.discontinuity). It reads its source only while it has subscribers.
import { FlvFeed, type FeedStart, type FeedSubscription, type FeedTracks, type FlvSource } from './FlvFeed.js';

export class SwitchingFeed extends FlvFeed {
  private source: FlvSource | undefined;
  private subscription: FeedSubscription | undefined;
  private demanded = false;

  constructor(name: string, tracks: FeedTracks) {
    let self: SwitchingFeed | undefined;
    super(name, tracks, {
      start: () => self?.setDemanded(true),
      stop: () => self?.setDemanded(false),
    });
    self = this;
  }

  /** Carries `source` from now on (undefined: nothing, until the next one). */
  follow(source: FlvSource | undefined): void {
    if (source === this.source || this.ended) return;
    const switching = this.subscription !== undefined;
    this.source = source;
    // Another source's timeline: moved on from the last tag sent (a no-op before the first).
    this.discontinuity();
    this.resubscribe(switching ? 'keyframe' : 'gop');
  }

  override end(): void {
    this.subscription?.close();
    this.subscription = undefined;
    super.end();
  }

  private setDemanded(on: boolean): void {
    this.demanded = on;
    this.resubscribe('gop');
  }

  /** From a source that was being sent, at its next key frame (no replay of what it sent before); else from its GOP. */
  private resubscribe(start: FeedStart): void {
    this.subscription?.close();
    this.subscription = undefined;
    const source = this.source;
    if (!this.demanded || !source || source.ended || this.ended) return;
    const subscription = source.subscribe((tag) => this.push(tag), start, () => {
      if (this.subscription === subscription) this.subscription = undefined;
    });
    this.subscription = subscription;
  }
}
