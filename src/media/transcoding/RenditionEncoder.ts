// One FFmpeg making a set of renditions of one source: the source's FLV feed decoded once, split, and each branch
// scaled, rate-converted and encoded to H264 (and the audio to Opus) as RTP into its rendition's plain publisher.
// The publishers' fixed source ports make a restarted FFmpeg (after a crash, with ManagedFfmpeg's backoff) feed the
// same producers, so the renditions' viewers keep their sessions.
import type { Logger } from 'pino';
import { feedInput, type FfmpegProcesses, ManagedFfmpeg } from '../ffmpeg/ManagedFfmpeg.js';
import type { FlvSource } from '../flv/FlvFeed.js';
import { filterGraph, renditionOutputs, type RenditionOutput, type RenditionPlan } from './plan.js';

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

/**
 * The renditions of a WebRTC ladder made apart from its top layer (a WHIP source's, a copied RTMP source's): one
 * renditionEncoder into the ladder's lower layers, made again by a new FFmpeg when the source's video changes.
 */
export class LadderRenditions {
  private ffmpeg: ManagedFfmpeg | undefined;
  private closed = false;

  constructor(
    private readonly feed: FlvSource,
    /** Where each layer goes, for the layers as planned. */
    private readonly outputsOf: (layers: readonly RenditionPlan[]) => readonly RenditionOutput[],
    private readonly ffmpegs: FfmpegProcesses,
    private readonly logger: Logger,
  ) {}

  start(layers: readonly RenditionPlan[]): void {
    if (this.closed) return;
    this.ffmpeg = renditionEncoder(this.feed, this.outputsOf(layers), this.ffmpegs, this.logger);
    this.ffmpeg.start();
  }

  /** The layers planned again (the source's new size): the running FFmpeg makes way for one that makes them. */
  async restart(layers: readonly RenditionPlan[]): Promise<void> {
    await this.ffmpeg?.close();
    this.start(layers);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ffmpeg?.close();
  }
}
