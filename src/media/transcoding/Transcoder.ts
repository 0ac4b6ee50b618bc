// Renditions of live streams. A rendition is an ordinary stream of the registry, {app}/{stream}_{templateId}: H264 +
// Opus published into the SFU as plain RTP by an FFmpeg that decodes the source's FLV feed, so it plays over WHEP,
// and its standard-latency side (HLS, HTTP-FLV, relays, recordings) is the SFU egress's, as for any WebRTC stream.
//
// This owns the transcoding templates (from the config, changed through the control API), decides which apply to a
// stream (the best-matching ladder's, and those whose own domain/app/stream match it), and runs the triggers:
// - always: started when the source goes live, all of a source's in one FFmpeg (one decode, split into every
//   rendition), running until the source ends;
// - on-demand: started when a play names the rendition (registry startOnDemand), in an FFmpeg of its own so that
//   starting or stopping it never interrupts another rendition's viewers, and stopped idleSeconds after its last
//   viewer (WebRTC viewers and feed subscribers: HLS muxer, HTTP-FLV players, relays, recorders).
// Every start holds one of maxRenditions places from its first step to its stop; what cannot start is refused with
// its reason and counted. The source ending ends its renditions; each FFmpeg has this as its owner.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Room } from '../../../sfu/index.js';
import { bestMatch, isStreamName, Refusal, ruleMatches, streamKey, streamPath, type StreamIdentity } from '../../core/index.js';
import { validateTranscodeTemplate, type Ladder, type TranscodeTemplate, type TranscodeTrigger, type TranscodingConfig } from '../../config/transcoding.js';
import type { LiveStream, StreamAddress, StreamRegistry } from '../../streams/StreamRegistry.js';
import type { FfmpegProcesses, FfmpegState, ManagedFfmpeg } from '../ffmpeg/ManagedFfmpeg.js';
import { h264OpusTracks, rtpTargets } from '../ffmpeg/rtp.js';
import type { FlvFeed, FlvSource } from '../flv/FlvFeed.js';
import { fittedRendition, parseRenditionName, planRendition, renditionName, type RenditionOutput, type RenditionPlan, type SourceVideo } from './plan.js';
import { renditionEncoder } from './RenditionEncoder.js';
import { probeSourceVideo } from './sourceProbe.js';
import { WhipLadder, whipLadderMisfit } from './WhipLadder.js';

/** Why a rendition was not started, for whipcast_rendition_refusals_total. */
export type RenditionRefusal = 'limit' | 'upscale' | 'fps' | 'no_video' | 'source_unreadable' | 'name_taken';

export interface RenditionStatus {
  stream: string;
  /** The source, app/stream. */
  source: string;
  templateId: string;
  trigger: TranscodeTrigger;
  /** Its FFmpeg: starting, running (encoding), or retrying after a crash. */
  state: FfmpegState;
  restarts: number;
  lastError: string | null;
  /** What it is encoded as (the template as it was when the rendition started). */
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  gopSeconds: number;
  profile: string;
  /** Renditions made by the same FFmpeg (one decode of the source), itself included. */
  sharedWith: string[];
}

export type TranscoderEvents = {
  started: [RenditionStatus];
  stopped: [{ stream: string; templateId: string; reason: string }];
  refused: [{ stream: string; reason: RenditionRefusal; message: string }];
};

export interface TranscoderOptions {
  config: TranscodingConfig;
  registry: StreamRegistry;
  /** A rendition's standard-latency feed (the SFU egress), its AAC at the template's bitrate. */
  renditionFeed: (key: string, room: Room, aacKbps: number) => FlvFeed;
  ffmpegs: FfmpegProcesses;
  logger: Logger;
}

interface Rendition {
  key: string;
  live: LiveStream;
  source: LiveStream;
  template: TranscodeTemplate;
  output: RenditionOutput;
  feed: FlvFeed;
  encoder: Encoder;
  /** Since when nobody takes it (now while someone does). */
  idleSince: number;
}

/** One FFmpeg and the renditions it makes; `encoding` is what the running FFmpeg was started with. */
interface Encoder {
  source: LiveStream;
  renditions: Set<Rendition>;
  ffmpeg: ManagedFfmpeg | undefined;
  encoding: Set<Rendition>;
  /** Rebuilds run one after the other. */
  update: Promise<void>;
}

const PROBE_TIMEOUT_MS = 10_000;
/** How often on-demand renditions are checked for viewers. */
const IDLE_CHECK_MS = 1_000;

export class Transcoder extends EventEmitter<TranscoderEvents> {
  private readonly templates = new Map<string, TranscodeTemplate>();
  private readonly renditions = new Map<string, Rendition>();
  /** Starts in progress by rendition key: a second request for the same rendition waits for the first. */
  private readonly starting = new Map<string, Promise<void>>();
  private readonly stopping = new Set<Promise<void>>();
  /**
   * One probe per source feed and video version (a size change makes a new one), for its ladder and its renditions;
   * a failed one is forgotten, so the next start asks again.
   */
  private readonly probes = new WeakMap<FlvSource, { version: number; video: Promise<SourceVideo | undefined> }>();
  /** Each source's listener for a change of its video (renditions follow it). */
  private readonly videoListeners = new Map<LiveStream, () => void>();
  private readonly refusalCounts = new Map<RenditionRefusal, number>();
  /** The WebRTC ladders of WHIP sources (the RTMP bridge makes an RTMP source's). */
  private readonly whipLadders = new Map<LiveStream, WhipLadder>();
  /** Places taken under maxRenditions: renditions running and starting. */
  private places = 0;
  private closed = false;
  private readonly idleTimer: NodeJS.Timeout;

  constructor(private readonly options: TranscoderOptions) {
    super();
    for (const template of options.config.templates) this.templates.set(template.id, template);
    options.registry.on('live', (live) => this.streamLive(live));
    options.registry.on('offline', (live) => this.streamOffline(live));
    this.idleTimer = setInterval(() => this.stopIdle(), IDLE_CHECK_MS);
    this.idleTimer.unref();
  }

  // ---- templates

  /** The ladders (from the config file; not changed at run time). */
  get ladders(): Ladder[] {
    return this.options.config.ladders;
  }

  listTemplates(): TranscodeTemplate[] {
    return [...this.templates.values()];
  }

  getTemplate(id: string): TranscodeTemplate | undefined {
    return this.templates.get(id);
  }

  /** Creates or replaces a template (validated; throws an invalid Refusal). Renditions running keep what they started with. */
  putTemplate(input: unknown): { template: TranscodeTemplate; created: boolean } {
    const template = validateTranscodeTemplate(input);
    const created = !this.templates.has(template.id);
    this.templates.set(template.id, template);
    this.options.logger.info({ template: template.id, created }, 'transcoding template stored');
    return { template, created };
  }

  /** Removes a template and stops its renditions; false if there is none. A ladder naming it keeps it (409). */
  deleteTemplate(id: string): boolean {
    if (!this.templates.has(id)) return false;
    const ladder = this.options.config.ladders.findIndex((l) => l.templates.includes(id));
    if (ladder >= 0) throw new Refusal('conflict', `template ${id} is named by transcoding.ladders[${ladder}] (ladders come from the config file): change the ladder first`);
    this.templates.delete(id);
    for (const rendition of this.renditions.values()) if (rendition.template.id === id) this.stop(rendition, `template ${id} deleted`);
    this.options.logger.info({ template: id }, 'transcoding template deleted');
    return true;
  }

  // ---- what runs

  /** A rendition stream's status (null for any other stream). */
  statusOf(live: LiveStream): RenditionStatus | null {
    const rendition = this.renditions.get(live.key);
    return rendition?.live === live ? status(rendition) : null;
  }

  /** The renditions running of a source stream. */
  renditionsOf(source: LiveStream): RenditionStatus[] {
    return [...this.renditions.values()].filter((r) => r.source === source).map(status);
  }

  list(): RenditionStatus[] {
    return [...this.renditions.values()].map(status);
  }

  refusals(): [RenditionRefusal, number][] {
    return [...this.refusalCounts.entries()];
  }

  /**
   * The WebRTC ladder of a single-layer source about to go live (the RTMP bridge makes its layers): the templates of
   * the best-matching ladder with `webrtc: true` that fit the source, lowest bitrate first. One that does not fit is
   * left out (logged and counted); a source ffprobe cannot read goes live without a ladder.
   */
  async webrtcLadder(source: StreamIdentity, feed: FlvSource): Promise<RenditionPlan[]> {
    const ladder = bestMatch(this.options.config.ladders, source);
    if (!ladder?.webrtc || this.closed) return [];
    const templates = ladder.templates.map((id) => this.templates.get(id)).filter((t): t is TranscodeTemplate => t !== undefined);
    let video: SourceVideo | undefined;
    try {
      video = await this.probe(feed, streamPath(source));
    } catch (error) {
      this.options.logger.warn({ err: error, stream: streamPath(source) }, 'no WebRTC ladder: the source cannot be read');
      return [];
    }
    const plans: RenditionPlan[] = [];
    for (const template of templates) {
      const planned = video && planRendition(template, video);
      if (!planned) continue;
      if ('misfit' in planned) this.refuse(planned.misfit.reason, renditionName(source.stream, template.id), new Refusal('conflict', `WebRTC ladder layer ${template.id} of ${streamPath(source)} left out: ${planned.misfit.message}`));
      else plans.push(planned.plan);
    }
    return plans.sort((a, b) => a.bitrateKbps - b.bitrateKbps);
  }

  /**
   * A WebRTC ladder's layers planned again for its source's video as it is now (after a size change), from their
   * templates as they are now. A layer that would be upscaled is brought within the source (its track exists: it
   * cannot be left out as at the start); a source that cannot be read keeps its layers as they were.
   */
  async refitWebrtcLadder(layers: readonly RenditionPlan[], source: StreamIdentity, feed: FlvSource): Promise<RenditionPlan[]> {
    const video = await this.probe(feed, streamPath(source));
    return layers.map((layer) => {
      const template = this.templates.get(layer.templateId);
      return video && template ? fittedRendition(template, video) : layer;
    });
  }

  /**
   * What an HLS multivariant playlist of a source lists besides the source: the renditions of the templates that
   * apply to it and fit it (on-demand ones start when a player asks for their playlist), with the source's video as
   * probed (undefined when it has none or cannot be read: then no rendition either).
   */
  async hlsLadder(source: LiveStream): Promise<{ video: SourceVideo | undefined; renditions: RenditionPlan[] }> {
    if (source.rendition || this.closed) return { video: undefined, renditions: [] };
    const video = await this.probe(source.feed, streamPath(source)).catch(() => undefined);
    if (!video) return { video, renditions: [] };
    const renditions = this.listTemplates()
      .filter((template) => this.applies(template, source))
      .flatMap((template) => {
        const planned = planRendition(template, video);
        return 'plan' in planned ? [planned.plan] : [];
      });
    return { video, renditions };
  }

  /** The registry's startOnDemand: starts {app}/{stream}_{id} if its source is live and the template applies to it. */
  startOnDemand(address: StreamAddress): Promise<void> {
    const name = parseRenditionName(address.stream);
    const source = name && this.options.registry.at({ ...address, stream: name.source });
    const template = name && this.templates.get(name.templateId);
    if (this.closed || !source || !template || source.rendition || !this.applies(template, source)) return Promise.resolve();
    const key = streamKey(source.ingestDomain, address);
    const started = this.starting.get(key);
    if (started) return started;
    if (this.renditions.has(key)) return Promise.resolve();
    const start = this.start(source, [template], true).finally(() => this.starting.delete(key));
    this.starting.set(key, start);
    return start;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    for (const [source, onVideoChange] of this.videoListeners) source.feed.off('videoConfig', onVideoChange);
    this.videoListeners.clear();
    await Promise.allSettled([...this.starting.values()]);
    await Promise.all([...this.whipLadders.values()].map((ladder) => ladder.close()));
    this.whipLadders.clear();
    for (const rendition of [...this.renditions.values()]) this.stop(rendition, 'server shutting down');
    await Promise.all([...this.stopping]);
  }

  // ---- triggers

  private streamLive(source: LiveStream): void {
    if (source.rendition || this.closed) return;
    const onVideoChange = () => this.sourceVideoChanged(source);
    source.feed.on('videoConfig', onVideoChange);
    this.videoListeners.set(source, onVideoChange);
    if (source.protocol === 'whip') void this.track(this.startWhipLadder(source));
    const always = this.listTemplates().filter((t) => t.trigger === 'always' && this.applies(t, source));
    if (always.length === 0) return;
    const keys = always.map((t) => streamKey(source.ingestDomain, { app: source.app, stream: renditionName(source.stream, t.id) }));
    const start = this.start(source, always, false).catch((error: unknown) => {
      if (!(error instanceof Refusal)) this.options.logger.error({ err: error, stream: streamPath(source) }, 'cannot start the always renditions');
    });
    const done = start.finally(() => keys.forEach((k) => this.starting.get(k) === done && this.starting.delete(k)));
    for (const key of keys) this.starting.set(key, done);
  }

  private streamOffline(live: LiveStream): void {
    const onVideoChange = this.videoListeners.get(live);
    if (onVideoChange) live.feed.off('videoConfig', onVideoChange);
    this.videoListeners.delete(live);
    const whip = this.whipLadders.get(live);
    this.whipLadders.delete(live);
    if (whip) void this.track(whip.close());
    for (const rendition of [...this.renditions.values()]) {
      if (rendition.source === live) this.stop(rendition, `source ${streamPath(live)} ended`);
      else if (rendition.live === live) this.stop(rendition, 'stream closed');
    }
  }

  /** A WHIP source's WebRTC ladder, when a ladder with `webrtc: true` matches it and it sends one H264 layer. */
  private async startWhipLadder(source: LiveStream): Promise<void> {
    const identity = identityOf(source);
    if (!bestMatch(this.options.config.ladders, identity)?.webrtc) return;
    const misfit = whipLadderMisfit(source.room);
    if (misfit) {
      this.options.logger.info({ stream: streamPath(source), reason: misfit }, 'no WebRTC ladder for this WHIP stream');
      return;
    }
    const layers = await this.webrtcLadder(identity, source.feed);
    if (layers.length === 0 || this.closed || source.room.isClosed || !this.videoListeners.has(source)) return;
    const ladder = await WhipLadder.start(source.room, source.feed, layers, this.options.ffmpegs, this.options.logger.child({ stream: streamPath(source), component: 'whip-ladder' }));
    if (this.closed || !this.videoListeners.has(source)) {
      await ladder.close();
      return;
    }
    this.whipLadders.set(source, ladder);
    this.options.logger.info({ stream: streamPath(source), ladder: layers.map((l) => `${l.templateId}:${l.width}x${l.height}@${l.bitrateKbps}k`) }, 'WHIP stream served as a WebRTC ladder');
  }

  private stopIdle(): void {
    const now = Date.now();
    for (const rendition of [...this.renditions.values()]) {
      if (rendition.template.trigger !== 'on-demand') continue;
      if (rendition.live.room.viewerCount + rendition.feed.subscriberCount > 0) rendition.idleSince = now;
      else if (now - rendition.idleSince >= this.options.config.idleSeconds * 1000) this.stop(rendition, `no viewer for ${this.options.config.idleSeconds} s`);
    }
  }

  /**
   * The source's video changed mid-stream (another size): each of its renditions is planned again from the
   * template it started with, and its FFmpeg restarted if the plan changed. One the source no longer fits (it would
   * be upscaled) stops, with the refusal's reason.
   */
  private sourceVideoChanged(source: LiveStream): void {
    const whip = this.whipLadders.get(source);
    if (whip) {
      const refitted = this.refitWebrtcLadder(whip.layers, identityOf(source), source.feed).then(async (layers) => {
        if (this.whipLadders.get(source) === whip) await whip.followVideo(layers);
      });
      void this.track(refitted);
    }
    const renditions = [...this.renditions.values()].filter((r) => r.source === source);
    if (renditions.length === 0 || this.closed) return;
    const replanned = this.probe(source.feed, streamPath(source)).then((video) => {
      const changed = new Set<Encoder>();
      for (const rendition of renditions) {
        if (this.renditions.get(rendition.key) !== rendition) continue;
        const stream = rendition.live.stream;
        if (!video) {
          this.stop(rendition, this.refuse('no_video', stream, new Refusal('conflict', `stream ${streamPath(source)} has no video any more`)).reason);
          continue;
        }
        const planned = planRendition(rendition.template, video);
        if ('misfit' in planned) {
          this.stop(rendition, this.refuse(planned.misfit.reason, stream, new Refusal('conflict', `rendition ${source.app}/${stream} stopped, the source is now ${video.width}x${video.height}: ${planned.misfit.message}`)).reason);
          continue;
        }
        const before = rendition.output.plan;
        if (JSON.stringify(planned.plan) === JSON.stringify(before)) continue;
        rendition.output = { ...rendition.output, plan: planned.plan };
        changed.add(rendition.encoder);
        this.options.logger.info({ stream: streamPath(rendition.live), from: `${before.width}x${before.height}`, to: `${planned.plan.width}x${planned.plan.height}` }, 'rendition follows its source to a new size');
      }
      for (const encoder of changed) this.rebuild(encoder, true);
    });
    void this.track(replanned);
  }

  /** Which templates apply to a stream: those the best-matching ladder names, and those whose own match it meets. */
  private applies(template: TranscodeTemplate, source: LiveStream): boolean {
    const target = identityOf(source);
    const { ladders } = this.options.config;
    if (bestMatch(ladders, target)?.templates.includes(template.id)) return true;
    // A template with no domain/app/stream of its own applies only through ladders, unless none names it.
    const ownMatch = template.domain !== undefined || template.app !== undefined || template.stream !== undefined || !ladders.some((l) => l.templates.includes(template.id));
    return ownMatch && ruleMatches(template, target);
  }

  // ---- starting

  /**
   * Starts renditions of a source in one FFmpeg. `requested`: the one rendition a play asked for, whose refusal
   * is the play's (thrown); otherwise (always) each refusal is logged and counted, and the others start.
   */
  private async start(source: LiveStream, templates: TranscodeTemplate[], requested: boolean): Promise<void> {
    const encoder: Encoder = { source, renditions: new Set(), ffmpeg: undefined, encoding: new Set(), update: Promise.resolve() };
    for (const template of templates) {
      const stream = renditionName(source.stream, template.id);
      if (!isStreamName(stream)) continue;
      try {
        this.takePlace(source, stream);
      } catch (error) {
        if (requested) throw error;
        continue;
      }
      try {
        const plan = this.plan(template, source, stream, await this.sourceVideo(source, stream));
        await this.publish(encoder, template, stream, plan);
      } catch (error) {
        this.places--;
        if (requested) throw error;
      }
    }
    // Renditions stopped meanwhile (their source ended) have left the set already.
    if (encoder.renditions.size === 0) return;
    this.rebuild(encoder);
    for (const rendition of encoder.renditions) {
      this.options.logger.info({ stream: streamPath(rendition.live), template: rendition.template.id, plan: rendition.output.plan }, 'rendition started');
      this.emit('started', status(rendition));
    }
  }

  private takePlace(source: LiveStream, stream: string): void {
    const { maxRenditions, idleSeconds } = this.options.config;
    if (this.places >= maxRenditions) {
      throw this.refuse('limit', stream, new Refusal('unavailable', `server is at its rendition limit (${maxRenditions}): ${source.app}/${stream} not started`, { retryAfterSeconds: idleSeconds }));
    }
    this.places++;
  }

  private probe(feed: FlvSource, name: string): Promise<SourceVideo | undefined> {
    const cached = this.probes.get(feed);
    if (cached?.version === feed.videoVersion) return cached.video;
    const probe = { version: feed.videoVersion, video: probeSourceVideo(feed, name, PROBE_TIMEOUT_MS) };
    this.probes.set(feed, probe);
    probe.video.catch(() => this.probes.get(feed) === probe && this.probes.delete(feed));
    return probe.video;
  }

  private async sourceVideo(source: LiveStream, stream: string): Promise<SourceVideo> {
    let video: SourceVideo | undefined;
    try {
      video = await this.probe(source.feed, streamPath(source));
    } catch (error) {
      throw error instanceof Refusal ? this.refuse('source_unreadable', stream, error) : error;
    }
    if (!video) throw this.refuse('no_video', stream, new Refusal('conflict', `stream ${streamPath(source)} has no video to transcode`));
    return video;
  }

  private plan(template: TranscodeTemplate, source: LiveStream, stream: string, video: SourceVideo): RenditionPlan {
    const planned = planRendition(template, video);
    if ('misfit' in planned) throw this.refuse(planned.misfit.reason, stream, new Refusal('conflict', `rendition ${source.app}/${stream} refused: ${planned.misfit.message}`));
    return planned.plan;
  }

  /** The rendition's stream (its name in the registry, a plain publisher in its room, its standard-latency feed), to be made by the encoder. */
  private async publish(encoder: Encoder, template: TranscodeTemplate, stream: string, plan: RenditionPlan): Promise<void> {
    const { registry } = this.options;
    const { source } = encoder;
    if (this.closed || !registry.isLive(source)) throw new Refusal('not-found', `stream ${streamPath(source)} is not live`);
    let admission;
    try {
      admission = registry.admitRendition(source, stream);
    } catch (error) {
      throw error instanceof Refusal ? this.refuse('name_taken', stream, error) : error;
    }
    const audio = source.feed.tracks.audio;
    let published;
    try {
      const specs = await h264OpusTracks({ profileLevelId: plan.profileLevelId, audio });
      published = { specs, publisher: await admission.room.publishPlain(randomUUID(), specs) };
    } catch (error) {
      admission.abort();
      throw error;
    }
    const { specs, publisher } = published;
    if (this.closed || !registry.isLive(source)) {
      publisher.close('source ended');
      throw new Refusal('not-found', `stream ${streamPath(source)} is not live`);
    }
    const key = streamKey(source.ingestDomain, { app: source.app, stream });
    const feed = this.options.renditionFeed(key, admission.room, plan.aacKbps);
    const live = admission.commit(publisher, { protocol: 'rendition', transcode: audio ? 'video+audio' : 'video', query: {}, feed, rendition: { source, templateId: template.id } });
    const targets = rtpTargets(publisher.endpoints, specs);
    if (!targets.video) throw new Error('rendition publisher without a video track');
    const rendition: Rendition = {
      key,
      live,
      source,
      template,
      output: { plan, video: targets.video, audio: targets.audio },
      feed,
      encoder,
      idleSince: Date.now(),
    };
    this.renditions.set(key, rendition);
    encoder.renditions.add(rendition);
  }

  /**
   * Makes the encoder's FFmpeg encode its renditions now: stops the running one, starts one for what is left.
   * `replanned`: their plans changed, so it restarts even for the same renditions.
   */
  private rebuild(encoder: Encoder, replanned = false): void {
    const rebuilt = encoder.update.then(async () => {
      if (!replanned && sameSet(encoder.encoding, encoder.renditions) && encoder.ffmpeg) return;
      await encoder.ffmpeg?.close();
      encoder.ffmpeg = undefined;
      encoder.encoding = new Set(encoder.renditions);
      if (this.closed || encoder.renditions.size === 0) return;
      const outputs = [...encoder.renditions].map((r) => r.output);
      const logger = this.options.logger.child({ stream: streamPath(encoder.source), renditions: outputs.map((o) => o.plan.templateId) });
      encoder.ffmpeg = renditionEncoder(encoder.source.feed, outputs, this.options.ffmpegs, logger);
      encoder.ffmpeg.start();
    });
    encoder.update = this.track(rebuilt);
  }

  // ---- stopping

  /** Ends a rendition: its FFmpeg (or the shared one, rebuilt without it), then its stream. */
  private stop(rendition: Rendition, reason: string): void {
    if (this.renditions.get(rendition.key) !== rendition) return;
    this.renditions.delete(rendition.key);
    this.places--;
    const { encoder } = rendition;
    encoder.renditions.delete(rendition);
    this.rebuild(encoder);
    // The stream ends once no FFmpeg sends to it any more (sending to a closed port would fail a shared FFmpeg).
    void this.track(
      encoder.update.then(() => {
        rendition.live.kick(reason);
        this.options.logger.info({ stream: streamPath(rendition.live), reason }, 'rendition stopped');
        this.emit('stopped', { stream: rendition.live.stream, templateId: rendition.template.id, reason });
      }),
    );
  }

  /** Work on FFmpegs and streams that close() waits for; a failure is logged and does not stop what follows it. */
  private track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((error: unknown) => this.options.logger.error({ err: error }, 'rendition FFmpeg or stream did not change cleanly'));
    this.stopping.add(tracked);
    void tracked.finally(() => this.stopping.delete(tracked));
    return tracked;
  }

  /** Counts and logs a refusal, and gives it back to be thrown. */
  private refuse(reason: RenditionRefusal, stream: string, refusal: Refusal): Refusal {
    this.refusalCounts.set(reason, (this.refusalCounts.get(reason) ?? 0) + 1);
    this.options.logger.warn({ stream, reason, message: refusal.reason }, 'rendition refused');
    this.emit('refused', { stream, reason, message: refusal.reason });
    return refusal;
  }
}

function status(rendition: Rendition): RenditionStatus {
  const { plan } = rendition.output;
  const ffmpeg = rendition.encoder.ffmpeg;
  return {
    stream: rendition.live.stream,
    source: streamPath(rendition.source),
    templateId: rendition.template.id,
    trigger: rendition.template.trigger,
    state: ffmpeg?.state ?? 'starting',
    restarts: ffmpeg?.restartCount ?? 0,
    lastError: ffmpeg?.lastError ?? null,
    width: plan.width,
    height: plan.height,
    fps: Math.round(plan.fps * 100) / 100,
    bitrateKbps: plan.bitrateKbps,
    gopSeconds: plan.gopSeconds,
    profile: plan.profile,
    sharedWith: [...rendition.encoder.renditions].map((r) => r.live.stream),
  };
}

function sameSet<T>(a: Set<T>, b: Set<T>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** The stream a live one is, as rules match it (domain, app, stream). */
function identityOf(live: LiveStream): StreamIdentity {
  return { host: live.host, app: live.app, stream: live.stream };
}
