// The RTMP bridge's input: the publish's FLV tags on FFmpeg's stdin, from a key frame after the sequence headers,
// stamped for WebRTC. With arrival timestamps (rtmp.timestamps: arrival) video tags get the time they reached the
// server (src/media/flv/retime.ts explains why) but audio tags keep the encoder's spacing: an AAC frame is 1024
// samples, and stamping each with its arrival would give the decoded audio a timeline that jumps back and forth by
// the tags' arrival jitter (RTMP encoders interleave audio with video, so audio arrives in bunches). The audio
// timeline follows the earliest arrivals (a tag that comes sooner than the timeline says pulls it earlier) and is put
// back on the arrival clock when it has fallen more than REANCHOR_MS behind it (the encoder paused its audio, or its
// clock is slower). A run starting from the feed's cached GOP gets that GOP's video at once (the decoder needs it
// from the key frame) but not its audio, which would only be old: audio starts with the next live tag.
import { PassThrough } from 'node:stream';
import type { FfmpegCommand } from 'fluent-ffmpeg';
import type { RunInput } from '../media/ffmpeg/ManagedFfmpeg.js';
import { wallClockMs } from '../media/ffmpeg/rtcp.js';
import type { FlvSource } from '../media/flv/FlvFeed.js';
import { encodeTag, flvHeader, isSequenceHeader, TAG_AUDIO, TAG_SCRIPT, type FlvTag } from '../media/flv/tag.js';

/** FFmpeg stalled: drop rather than hold an unbounded backlog (latency would only grow). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** The audio timeline is put back on the arrival clock when it is this far off it. */
export const REANCHOR_MS = 250;


/**
 * Bridge timestamps: video at arrival (ms since `originMs`, never going backwards: a burst is spread 1 ms apart),
 * audio with the source's spacing on the same clock. `originMs` is the wall-clock time of timestamp 0, which the
 * RTCP sender reports of the run's outputs are given (-start_time_realtime), so that they map RTP time to the one
 * wall clock for both tracks.
 */
export class BridgeRetimer {
  private readonly last = new Map<number, number>();
  private audioOffset: number | undefined;

  constructor(
    readonly originMs: number,
    private readonly now: () => number = wallClockMs,
  ) {}

  retime(tag: FlvTag): FlvTag {
    const arrival = this.now() - this.originMs;
    let timestamp: number;
    if (tag.type === TAG_AUDIO) {
      const offset = arrival - tag.timestamp;
      if (this.audioOffset === undefined || offset < this.audioOffset || offset - this.audioOffset > REANCHOR_MS) this.audioOffset = offset;
      timestamp = tag.timestamp + this.audioOffset;
    } else {
      timestamp = arrival;
    }
    const previous = this.last.get(tag.type);
    timestamp = Math.max(Math.round(timestamp), previous === undefined ? 0 : previous + 1);
    this.last.set(tag.type, timestamp);
    return { ...tag, timestamp };
  }
}

/**
 * The bridge's RunInput: each run subscribes to the feed (from the cached GOP) and writes FLV to FFmpeg's stdin.
 * `onRun` gets each run's timestamp origin (wall-clock ms of timestamp 0; with the source's timestamps, about that
 * of the first tag) before FFmpeg's outputs are set up.
 */
export function bridgeInput(feed: FlvSource, inputOptions: string[], retime: boolean, onRun: (run: { originMs: number }) => void): RunInput {
  return (command: FfmpegCommand) => {
    const input = new PassThrough();
    command.input(input).inputFormat('flv').inputOptions(inputOptions);
    const originMs = wallClockMs();
    const retimer = retime ? new BridgeRetimer(originMs) : undefined;
    onRun({ originMs });
    let headerSent = false;
    // Tags handed over inside subscribe() are the feed's cache: sequence headers and the current GOP.
    let cached = true;
    const subscription = feed.subscribe((tag) => {
      // Encoder metadata can describe streams that are not there (and makes a no-probe FLV input miss the video).
      if (tag.type === TAG_SCRIPT) return;
      if (cached && retimer && tag.type === TAG_AUDIO && !isSequenceHeader(tag)) return;
      if (!headerSent) {
        input.write(flvHeader(feed.tracks.audio, feed.tracks.video));
        headerSent = true;
      }
      if (input.writableLength <= MAX_PENDING_BYTES) input.write(encodeTag(retimer ? retimer.retime(tag) : tag));
    }, 'gop');
    cached = false;
    return () => {
      subscription.close();
      input.end();
    };
  };
}
