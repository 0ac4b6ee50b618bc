// One FFmpeg making a set of renditions of one source: the source's FLV feed decoded once, split, and each branch
// scaled, rate-converted and encoded to H264 (and the audio to Opus) as RTP into its rendition's plain publisher.
// The publishers' fixed source ports make a restarted FFmpeg (after a crash, with ManagedFfmpeg's backoff) feed the
// same producers, so the renditions' viewers keep their sessions.
import type { Logger } from 'pino';
import { feedInput, type FfmpegProcesses, ManagedFfmpeg } from '../ffmpeg/ManagedFfmpeg.js';
import type { FlvSource } from '../flv/FlvFeed.js';
import { filterGraph, renditionOutputs, type RenditionOutput } from './plan.js';

/** No probing or input buffering: the feed's FLV header and sequence headers say what the streams are. */
const INPUT_OPTIONS = ['-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'];

export function renditionEncoder(feed: FlvSource, outputs: readonly RenditionOutput[], ffmpegs: FfmpegProcesses, logger: Logger): ManagedFfmpeg {
  const audio = outputs.some((o) => o.audio !== undefined);
  return new ManagedFfmpeg({
    // From the cached GOP: a rendition starts with the source's current key frame, not its next one.
    input: feedInput(feed, 'gop', INPUT_OPTIONS),
    graceful: false,
    ffmpegs,
    logger,
    output: (command) => {
      command.complexFilter(filterGraph(outputs.map((o) => o.plan), audio));
      outputs.forEach((output, i) => {
        for (const { url, options } of renditionOutputs(output, i)) command.output(url).outputOptions(options);
      });
    },
  });
}
