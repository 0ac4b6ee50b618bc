// Arrival timestamps for the RTMP → WebRTC bridge. A browser's jitter buffer sizes itself from how much frames'
// arrival drifts from their timestamps; an encoder's key frames take longer to encode and send than the frames
// around them, so with the encoder's own timestamps every periodic key frame looks like network jitter and the
// browser holds ~70 ms of video (measured: bench:latency --path rtmp). Stamping each tag with the time it reached
// the server makes the stream as regular as its arrival: frames are shown as they come.
import type { FlvTag } from './tag.js';

/**
 * A function that gives each tag its arrival time (ms since the first tag), never going backwards within a tag type
 * (a burst, such as a cached GOP sent at once, is spread 1 ms apart). A video tag's composition-time offset (in its
 * body) is kept, so B-frames stay in order.
 */
export function arrivalRetimer(now: () => number = () => performance.now()): (tag: FlvTag) => FlvTag {
  let origin: number | undefined;
  const last = new Map<number, number>();
  return (tag) => {
    const t = now();
    origin ??= t;
    const previous = last.get(tag.type);
    const timestamp = Math.max(Math.round(t - origin), previous === undefined ? 0 : previous + 1);
    last.set(tag.type, timestamp);
    return { ...tag, timestamp };
  };
}
