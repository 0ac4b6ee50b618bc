// Recording for the whole server: listens to the stream registry, applies the matching template's trigger
// (auto, on-demand callback, ingest parameter, manual), runs one Recorder per recorded stream, sends event
// callbacks, recovers recordings a killed server left behind, and finalises everything on shutdown.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { LiveStream, StreamRegistry } from '../streams/StreamRegistry.js';
import { sendCallback } from './callbacks.js';
import { CallbackSender } from '../notify/CallbackSender.js';
import type { RecordingConfig } from '../config/recording.js';
import { Recorder, type RecorderHooks } from './Recorder.js';
import { RecordingIndex, totalDuration, type RecordingRecord } from './RecordingIndex.js';
import { LocalStorage } from './storage.js';
import { expandNaming } from './templates.js';
import { validateTemplate, type RecordFormat, type RecordTemplate } from '../config/recording.js';
import { askOnDemand, needRecord } from './triggers.js';
import { bestMatch, Refusal, streamKey, streamPath } from '../core/index.js';
import type { SignedPoster } from '../notify/SignedPoster.js';
import type { FfmpegProcesses } from '../media/ffmpeg/ManagedFfmpeg.js';

export type RecordingCommand = 'start' | 'stop' | 'restart' | 'cancel_delay';

export interface RecordingState {
  state: 'recording' | 'splicing' | 'finalising';
  recordingId: string | undefined;
  templateId: string;
  formats: RecordFormat[];
  segments: number;
  durationSeconds: number;
}


/** `decision`: whether a stream that went live is recorded, and why (for logs and tests). */
export type RecordingServiceEvents = { decision: [{ app: string; stream: string; record: boolean; reason: string }] };

export class RecordingService extends EventEmitter<RecordingServiceEvents> {
  readonly index: RecordingIndex;
  private readonly templates = new Map<string, RecordTemplate>();
  private readonly recorders = new Map<string, Recorder>();
  private readonly finishing = new Set<Promise<void>>();
  private closed = false;
  private readonly onLive = (live: LiveStream) => void this.streamLive(live);
  private readonly onOffline = (live: LiveStream) => this.streamOffline(live);
  /** Resolves once recordings interrupted by a previous crash are finalised. */
  readonly recovered: Promise<void>;

  constructor(
    private readonly config: RecordingConfig,
    private readonly registry: StreamRegistry,
    private readonly logger: Logger,
    /** Delivers the recording events (signed, retried). */
    private readonly callbacks: CallbackSender,
    /** Signs the on-demand request. */
    private readonly poster: SignedPoster,
    private readonly ffmpegs: FfmpegProcesses,
  ) {
    super();
    for (const template of config.templates) this.templates.set(template.id, template);
    this.index = new RecordingIndex(new LocalStorage(config.directory), logger);
    registry.on('live', this.onLive);
    registry.on('offline', this.onOffline);
    this.recovered = this.recover();
  }

  private async recover(): Promise<void> {
    try {
      await this.index.load();
      const storage = this.index.storage;
      const recovered = await this.index.recover(this.hooks, (record, sequence, start) =>
        `${expandNaming(this.templates.get(record.templateId)?.naming.segment ?? `record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}`, {
          app: record.app, stream: record.stream, start: new Date(record.startedAt), unixTimestamp: start.getTime() / 1000, sequence,
        })}.ts`);
      if (recovered.length > 0) this.logger.info({ recovered: recovered.map((r) => ({ id: r.id, status: r.status })) }, 'recordings recovered');
      // Work directories of recorders that were not even in the index yet.
      for (const leftover of await storage.list('.work')) if (leftover.endsWith('.part')) await storage.delete(leftover);
    } catch (error) {
      this.logger.error({ err: error }, 'recording recovery failed');
    }
  }

  private readonly hooks: RecorderHooks = {
    started: (record) => {
      this.logger.info({ id: record.id, stream: streamPath(record), template: record.templateId }, 'recording started');
      this.send({ event: 'record_started', ...this.base(record), templateId: record.templateId, formats: record.formats });
    },
    fileFinished: (record, file) => {
      this.logger.info({ id: record.id, ...file }, 'recording file finished');
      this.send({ event: 'record_file_finished', ...this.base(record), format: file.format, path: file.path, durationSeconds: file.durationSeconds, bytes: file.bytes });
    },
    failed: (record, reason) => {
      this.logger.warn({ id: record.id, reason }, 'recording failed');
      this.send({ event: 'record_failed', ...this.base(record), reason });
    },
  };

  private base(record: RecordingRecord) {
    return { id: record.id, domain: record.domain, app: record.app, stream: record.stream, time: new Date().toISOString() };
  }

  private send(event: Parameters<typeof sendCallback>[2]): void {
    sendCallback(this.callbacks, this.config.callbackUrl, event);
  }

  // ---- templates

  listTemplates(): RecordTemplate[] {
    return [...this.templates.values()];
  }

  getTemplate(id: string): RecordTemplate | undefined {
    return this.templates.get(id);
  }

  /** Creates or replaces a template (validated; throws an invalid Refusal). Applies to streams that go live from now on. */
  putTemplate(input: unknown): RecordTemplate {
    const template = validateTemplate(input);
    this.templates.set(template.id, template);
    return template;
  }

  deleteTemplate(id: string): boolean {
    return this.templates.delete(id);
  }

  // ---- triggers

  private async streamLive(live: LiveStream): Promise<void> {
    if (this.closed) return;
    const name = live.key;
    const existing = this.recorders.get(name);
    if (existing?.state === 'splicing') {
      existing.resume(live.feed);
      return;
    }
    if (existing) return;
    const template = bestMatch(this.listTemplates(), { host: live.host, app: live.app, stream: live.stream });
    if (!template) return;
    if (live.latencyMode === 'half-second') {
      this.logger.info({ stream: name }, 'not recorded: half-second (WebRTC-only) domains are recorded only after a relay to a standard domain');
      return;
    }
    const decide = (record: boolean, reason: string) => {
      this.logger.info({ stream: name, record, reason }, record ? 'stream will be recorded' : 'stream not recorded');
      this.emit('decision', { app: live.app, stream: live.stream, record, reason });
    };
    const param = needRecord(live.query);
    let formats = template.formats;
    let cycleMinutes = template.cycleMinutes;
    switch (template.trigger) {
      case 'manual':
        decide(false, 'trigger manual: recorded only through the API');
        return;
      case 'auto':
        if (param === false) {
          decide(false, 'record_config NeedRecord=false');
          return;
        }
        break;
      case 'ingest-param':
        if (param !== true) {
          decide(false, 'trigger ingest-param needs record_config={"NeedRecord":true}');
          return;
        }
        break;
      case 'on-demand': {
        const decision = await askOnDemand(
          this.poster,
          this.config.onDemandUrl,
          { event: 'record_request', domain: live.host, app: live.app, stream: live.stream, templateId: template.id, formats: template.formats },
          this.config.onDemandTimeoutMs,
          this.config.onDemandDefault,
        );
        if (!decision.record) {
          decide(false, decision.reason);
          return;
        }
        formats = decision.formats;
        cycleMinutes = decision.cycleMinutes ?? cycleMinutes;
        // The stream may have ended (or been recorded) while we asked.
        if (live.feed.ended || !this.registry.isLive(live) || this.recorders.has(name) || this.closed) return;
        decide(true, decision.reason);
        break;
      }
    }
    if (template.trigger !== 'on-demand') decide(true, `trigger ${template.trigger}`);
    await this.begin(live, template, formats, cycleMinutes);
  }

  private async begin(live: LiveStream, template: RecordTemplate, formats: RecordFormat[], cycleMinutes: number): Promise<Recorder> {
    const name = live.key;
    const recorder = new Recorder(
      { domain: live.host.replace(/:\d+$/, ''), app: live.app, stream: live.stream },
      { template, formats, cycleMinutes, index: this.index, hooks: this.hooks, ffmpegs: this.ffmpegs, logger: this.logger.child({ recording: name }) },
    );
    this.recorders.set(name, recorder);
    await recorder.start(live.feed);
    if (live.feed.ended) void this.streamOffline(live);
    return recorder;
  }

  private streamOffline(live: LiveStream): void {
    const name = live.key;
    const recorder = this.recorders.get(name);
    if (!recorder) return;
    void recorder.streamEnded(() => void this.finish(name, recorder));
  }

  /** Finalises a recorder (it leaves the map at once: the same stream can start a new recording meanwhile). */
  private finish(name: string, recorder: Recorder): Promise<void> {
    if (this.recorders.get(name) === recorder) this.recorders.delete(name);
    const done = recorder.finish().catch((error: unknown) => this.logger.error({ err: error }, 'recording finalisation failed'));
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
    return done;
  }

  // ---- manual commands

  /** A manual command for the stream app/stream of `ingestDomain` (default: the default domain's, else any). */
  async command(app: string, stream: string, command: RecordingCommand, templateId?: string, ingestDomain?: string): Promise<RecordingState | undefined> {
    const live = this.registry.get(app, stream, ingestDomain);
    const name = live?.key ?? streamKey(ingestDomain, { app, stream });
    const recorder = this.recorders.get(name);
    switch (command) {
      case 'start': {
        if (recorder?.state === 'recording') throw new Refusal('conflict', `${name} is already being recorded`);
        if (!live) throw new Refusal('not-found', `stream ${name} is not live`);
        if (live.latencyMode === 'half-second') throw new Refusal('conflict', `${name} is on a half-second (WebRTC-only) domain and cannot be recorded`);
        if (recorder?.state === 'splicing') {
          recorder.resume(live.feed);
          return this.stateByKey(name);
        }
        const template = templateId !== undefined ? this.templates.get(templateId) : bestMatch(this.listTemplates(), { host: live.host, app, stream });
        if (!template) throw new Refusal('not-found', templateId !== undefined ? `record template ${templateId} not found` : `no record template matches ${name}`);
        await this.begin(live, template, template.formats, template.cycleMinutes);
        return this.stateByKey(name);
      }
      case 'stop':
        if (!recorder) throw new Refusal('conflict', `${name} is not being recorded`);
        await this.finish(name, recorder);
        return undefined;
      case 'restart':
        if (recorder?.state !== 'recording') throw new Refusal('conflict', `${name} is not being recorded`);
        await recorder.restart();
        return this.stateByKey(name);
      case 'cancel_delay':
        if (recorder?.state !== 'splicing') throw new Refusal('conflict', `${name} is not waiting for a splice`);
        await this.finish(name, recorder);
        return undefined;
    }
  }

  /** Recording state of a stream for /api/streams; undefined when it is not recorded. */
  stateOf(app: string, stream: string, ingestDomain?: string): RecordingState | undefined {
    return this.stateByKey(streamKey(ingestDomain, { app, stream }));
  }

  private stateByKey(key: string): RecordingState | undefined {
    const recorder = this.recorders.get(key);
    if (!recorder || recorder.state === 'done') return undefined;
    const record = recorder.record;
    return {
      state: recorder.state,
      recordingId: record?.id,
      templateId: recorder.template.id,
      formats: recorder.formats,
      segments: record?.segments.length ?? 0,
      durationSeconds: record ? Math.round(totalDuration(record) * 1000) / 1000 : 0,
    };
  }

  /** Shutdown: every open recording is finalised now (no splice wait), then the service stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    this.registry.off('live', this.onLive);
    this.registry.off('offline', this.onOffline);
    await this.recovered;
    for (const [name, recorder] of [...this.recorders]) void this.finish(name, recorder);
    await Promise.allSettled([...this.finishing]);
  }
}
