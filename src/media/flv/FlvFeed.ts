// One live stream as FLV tags, for everything on the standard-latency side: HTTP-FLV players, the HLS muxer,
// relays and recorders subscribe to it. It keeps what a late subscriber needs to start cleanly (metadata, sequence
// headers, the current GOP) and keeps timestamps monotonic when its source restarts. A feed whose source costs
// something (the SFU egress FFmpeg) runs that source only while someone subscribes.
// A source may change its video mid-stream (a new AVC sequence header: another size). FFmpeg's copies keep the first
// header's SPS/PPS (h264_mp4toannexb puts them before every key frame, and the MPEG-TS and MP4 muxers do the same),
// so from then on the feed puts the new SPS/PPS in front of each key frame itself, and says so at the first new key
// frame ('videoConfig'), for those that must start again to follow (renditions, re-encodes).
import { EventEmitter } from 'node:events';
import { avcParameterSets, isKeyFrame, isSequenceHeader, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, withParameterSets, type FlvTag } from './tag.js';

/** Where a new subscriber starts: at the cached GOP (fast start), or at the next key frame (no old media). */
export type FeedStart = 'gop' | 'keyframe';

export interface FeedTracks {
  audio: boolean;
  video: boolean;
}

/** A source that only runs while the feed has subscribers. */
export interface FeedDemand {
  start(): void;
  stop(): void;
}

export interface FeedSubscription {
  close(): void;
}

/** What subscribers see of a feed. */
export interface FlvSource {
  readonly name: string;
  readonly tracks: FeedTracks;
  readonly ended: boolean;
  /** How many times the video changed ('videoConfig'): what was read of it before is out of date once this grows. */
  readonly videoVersion: number;
  /**
   * `onEnd`: called once when the stream is over (at once if it already is). Each subscriber hears of the end
   * through its own subscription, so any number of them adds no listener to the feed.
   */
  subscribe(onTag: (tag: FlvTag) => void, start: FeedStart, onEnd?: () => void): FeedSubscription;
  /** For the owner of a whole stream's pipeline (one listener per stream, not per subscriber). */
  once(event: 'end', listener: () => void): unknown;
  off(event: 'end' | 'videoConfig', listener: () => void): unknown;
  /** The video changed (a new sequence header): emitted at its first key frame, which is then the cached GOP's first. */
  on(event: 'videoConfig', listener: () => void): unknown;
}

/** A GOP longer than this is not cached (subscribers then start at the next key frame). */
const MAX_GOP_BYTES = 32 * 1024 * 1024;
/** Gap put between the last tag before a source restart and the first after it. */
const RESTART_GAP_MS = 40;

interface Subscriber {
  onTag: (tag: FlvTag) => void;
  onEnd: (() => void) | undefined;
  /** Still waiting for its first key frame. */
  waiting: boolean;
}

export class FlvFeed extends EventEmitter<{ end: []; videoConfig: [] }> implements FlvSource {
  private readonly subscribers = new Set<Subscriber>();
  private metadata: FlvTag | undefined;
  private videoHeader: FlvTag | undefined;
  private audioHeader: FlvTag | undefined;
  /** Put in front of every key frame once the video's sequence header has changed. */
  private parameterSets: ReturnType<typeof avcParameterSets>;
  /** A new sequence header came: 'videoConfig' is due at the next key frame. */
  private videoChanged = false;
  private videoChanges = 0;
  private gop: FlvTag[] = [];
  private gopBytes = 0;
  private offset = 0;
  private lastTimestamp: number | undefined;
  private rebase = false;
  private endedFlag = false;

  constructor(
    readonly name: string,
    readonly tracks: FeedTracks,
    private readonly demand?: FeedDemand,
  ) {
    super();
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  get videoVersion(): number {
    return this.videoChanges;
  }

  /** Who takes the stream now (players, muxers, relays, recorders): an on-demand rendition with none is idle. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** The source restarted: its next tag starts a new timeline, which is moved to follow the last one. */
  discontinuity(): void {
    this.rebase = true;
  }

  push(source: FlvTag): void {
    if (this.endedFlag) return;
    if (this.rebase && this.lastTimestamp !== undefined) this.offset = this.lastTimestamp + RESTART_GAP_MS - source.timestamp;
    this.rebase = false;
    const retimed = this.offset === 0 ? source : { ...source, timestamp: Math.max(0, source.timestamp + this.offset) };
    if (retimed.type !== TAG_SCRIPT) this.lastTimestamp = retimed.timestamp;
    const header = this.remember(retimed);
    const keyFrame = isKeyFrame(retimed);
    const tag = keyFrame && this.parameterSets ? withParameterSets(retimed, this.parameterSets) : retimed;
    const key = !this.tracks.video || keyFrame;
    if (!header) this.cache(tag, key);
    for (const subscriber of this.subscribers) {
      if (subscriber.waiting && !header) {
        if (!key) continue;
        subscriber.waiting = false;
      }
      subscriber.onTag(tag);
    }
    if (keyFrame && this.videoChanged) {
      this.videoChanged = false;
      this.videoChanges++;
      this.emit('videoConfig');
    }
  }

  subscribe(onTag: (tag: FlvTag) => void, start: FeedStart, onEnd?: () => void): FeedSubscription {
    if (this.endedFlag) {
      onEnd?.(); // nothing more will come; and an ended feed's source must not start again
      return { close: () => undefined };
    }
    const subscriber: Subscriber = { onTag, onEnd, waiting: true };
    for (const header of [this.metadata, this.videoHeader, this.audioHeader]) if (header) onTag(header);
    if (start === 'gop' && this.gop.length > 0) {
      subscriber.waiting = false;
      for (const tag of this.gop) onTag(tag);
    }
    this.subscribers.add(subscriber);
    if (this.subscribers.size === 1) this.demand?.start();
    return {
      close: () => {
        if (!this.subscribers.delete(subscriber)) return;
        if (this.subscribers.size === 0 && !this.endedFlag) this.demand?.stop();
      },
    };
  }

  /** The stream is over: the source stops, each subscriber's onEnd is called, then 'end' is emitted. */
  end(): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    if (this.subscribers.size > 0) this.demand?.stop();
    const ended = [...this.subscribers];
    this.subscribers.clear();
    this.gop = [];
    for (const subscriber of ended) subscriber.onEnd?.();
    this.emit('end');
  }

  /** Keeps metadata and sequence headers for late subscribers; true if the tag was one. */
  private remember(tag: FlvTag): boolean {
    if (tag.type === TAG_SCRIPT) this.metadata = tag;
    else if (!isSequenceHeader(tag)) return false;
    else if (tag.type === TAG_VIDEO) {
      if (this.videoHeader && !this.videoHeader.data.equals(tag.data)) {
        this.parameterSets = avcParameterSets(tag);
        this.videoChanged = true;
      }
      this.videoHeader = tag;
    }
    else if (tag.type === TAG_AUDIO) this.audioHeader = tag;
    return true;
  }

  private cache(tag: FlvTag, key: boolean): void {
    if (key && tag.type === TAG_VIDEO) {
      this.gop = [];
      this.gopBytes = 0;
    } else if (this.gop.length === 0 && this.tracks.video) {
      return; // no key frame yet: nothing a decoder could start from
    }
    if (this.tracks.video || this.gop.length < 250) {
      this.gop.push(tag);
      this.gopBytes += tag.data.length;
    } else {
      this.gopBytes -= this.gop.shift()?.data.length ?? 0; // audio only: a few seconds are enough
      this.gop.push(tag);
      this.gopBytes += tag.data.length;
    }
    if (this.gopBytes > MAX_GOP_BYTES) {
      this.gop = [];
      this.gopBytes = 0;
    }
  }
}
