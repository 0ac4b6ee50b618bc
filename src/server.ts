// Composition: the SFU, the stream registry, and the HTTP server with the WHIP/WHEP, API and demo routes.
// startServer() is what `npm start` runs and what the integration tests start, with real workers.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import { pino, type Logger } from 'pino';
import { Sfu } from '../sfu/index.js';
import { errorHandler, notFoundHandler, SessionStore, signaling } from '../signaling/index.js';
import type { MediaRequest } from './core/index.js';
import { StaticTokenAuthorizer } from './access/Authorizer.js';
import { AccessAuthorizer } from './access/AccessAuthorizer.js';
import { DenialCounter } from './access/denials.js';
import { Domains } from './access/Domains.js';
import { workerCount, type Config } from './config/config.js';
import { controlApi } from './http/api/index.js';
import { live } from './http/live.js';
import { countRequests, metricsRoute } from './http/metrics.js';
import { createMetrics } from './metrics/index.js';
import { listenAddresses } from './config/network.js';
import { RtmpIngest } from './rtmp/RtmpIngest.js';
import { RelayManager } from './media/RelayManager.js';
import { LiveHls } from './media/LiveHls.js';
import { egressFeed } from './media/SfuEgress.js';
import { FfmpegProcesses } from './media/ffmpeg/ManagedFfmpeg.js';
import { StreamRegistry, type LiveStream } from './streams/StreamRegistry.js';
import { RecordingService } from './recording/RecordingService.js'; // recording
import { Transcoder } from './media/transcoding/Transcoder.js';
import { CallbackSender } from './notify/CallbackSender.js';
import { SignedPoster } from './notify/SignedPoster.js';
import { attachStreamCallbacks } from './notify/streamEvents.js';
import { AdmissionHook } from './access/AdmissionHook.js';
import { Limits } from './access/Limits.js';
import { loadTls } from './http/tls.js';
import { time } from './http/time.js'; // GET /time, the demo pages' clock sync
import { events } from './http/events.js'; // GET /api/events (dashboard), GET /ws/player (viewer reports)

export interface WhipcastServer {
  config: Config;
  http: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;
  sfu: Sfu;
  registry: StreamRegistry;
  sessions: SessionStore;
  rtmp: RtmpIngest;
  /** Recording templates, recorders and the recordings index (recording). */
  recording: RecordingService;
  /** Transcoding templates and the renditions they make. */
  transcoder: Transcoder;
  relays: RelayManager;
  hls: LiveHls;
  /** The RTMP port actually bound. */
  rtmpPort: number;
  logger: Logger;
  /** e.g. http://127.0.0.1:8080 (the port actually bound, when configured as 0). */
  httpUrl: string;
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.log.level, base: { service: 'whipcast' } });
}

export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<WhipcastServer> {
  let ready = false;
  const tls = loadTls(config.http.tls); // before anything starts: a bad file is a ConfigError naming it
  const listen = listenAddresses(config.rtc);
  const sfu = await Sfu.create(
    {
      workers: workerCount(config),
      rtcPort: config.rtc.port,
      listen,
      logLevel: config.rtc.logLevel,
      viewersPerWorker: config.rtc.viewersPerWorker,
      initialAvailableOutgoingBitrate: config.rtc.initialAvailableOutgoingBitrate,
      failover: { failoverMs: config.continuity.backup.failoverMs, holdMs: config.continuity.backup.holdSeconds * 1000, revert: config.continuity.backup.revert },
      timeouts: {
        iceConnectMs: config.rtc.iceConnectTimeoutMs,
        iceDisconnectMs: config.rtc.iceDisconnectTimeoutMs,
        inactivityMs: config.rtc.inactivityTimeoutMs,
        inactivityCheckMs: Math.min(2000, Math.max(500, Math.floor(config.rtc.inactivityTimeoutMs / 3))),
      },
    },
    logger.child({ component: 'sfu' }),
  );
  const sessions = new SessionStore();
  // Access control per domain (Host): IP and referer lists, signed URLs, then the static tokens.
  const domains = new Domains(config);
  const denials = new DenialCounter(); // refusals by reason, for /metrics
  const ffmpegs = new FfmpegProcesses(); // every FFmpeg this server runs, for /metrics
  // Callbacks (signed, retried, never awaited), the admission hook and the limits
  const callbacks = new CallbackSender(config.callbacks, logger.child({ component: 'callbacks' }));
  const admission = new AdmissionHook(config.admission, new SignedPoster(config.admission.secret ?? config.callbacks.secret), logger.child({ component: 'admission' }));
  const registry: StreamRegistry = new StreamRegistry(
    sfu,
    new AccessAuthorizer(domains, new StaticTokenAuthorizer(config.auth)),
    {
      conflict: config.publishConflict,
      domains,
      denials,
      graceSeconds: ({ ingestDomain, app }) => config.continuity.apps[app] ?? domains.resolve(ingestDomain ?? '').graceSeconds ?? config.continuity.graceSeconds,
      egressFeed: (name, room) => egressFeed(name, room, { keyFrameIntervalMs: config.standard.keyFrameIntervalMs }, ffmpegs, logger),
      ...(admission.enabled ? { admission: (action: 'publish' | 'play', request: MediaRequest) => admission.check(action, request) } : {}),
      limits: new Limits(config.limits),
      startOnDemand: (name): Promise<void> => transcoder.startOnDemand(name), // on-demand renditions
    },
    logger.child({ component: 'streams' }),
  );
  const transcoder: Transcoder = new Transcoder({
    config: config.transcoding,
    registry,
    renditionFeed: (key, room, aacKbps) => egressFeed(key, room, { keyFrameIntervalMs: config.standard.keyFrameIntervalMs, aacKbps }, ffmpegs, logger),
    ffmpegs,
    logger: logger.child({ component: 'transcode' }),
  });

  const relays = new RelayManager(registry, config.relays, ffmpegs, logger.child({ component: 'relay' }));
  const hlsRoot = config.standard.hlsDirectory ?? (await mkdtemp(join(tmpdir(), 'whipcast-hls-')));
  const hls = new LiveHls(
    { root: hlsRoot, segmentSeconds: config.standard.hlsSegmentSeconds, listSize: config.standard.hlsListSize, idleSeconds: config.standard.hlsIdleSeconds },
    ffmpegs,
    logger.child({ component: 'hls' }),
  );
  // recording: after the registry (it listens to live/offline); close() finalises what it records
  const recording = new RecordingService(config.recording, registry, logger.child({ component: 'recording' }), callbacks, new SignedPoster(config.callbacks.secret), ffmpegs);
  attachStreamCallbacks(registry, sessions, callbacks);
  const rtmp = new RtmpIngest(registry, config, ffmpegs, logger.child({ component: 'rtmp' }), transcoder);
  // HTTPS when http.tls is set (the instance's type stays the plain-HTTP one: only listen() differs).
  const http = Fastify({ loggerInstance: logger, forceCloseConnections: true, trustProxy: config.http.trustProxy, ...(tls ? { https: tls } : {}) }) as unknown as FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;
  let rtmpPort: number | undefined;
  const metrics = createMetrics({
    streams: registry,
    relays,
    isRecorded: (stream) => recording.stateOf(stream.app, stream.stream, stream.ingestDomain)?.state === 'recording',
    sfu,
    denials,
    perStreamLabels: config.metrics.perStreamLabels,
    ffmpegs: () => ffmpegs.list(),
    renditions: () => transcoder.list(),
    renditionRefusals: () => transcoder.refusals(),
  });
  http.addHook('onResponse', countRequests(metrics)); // HTTP requests by route pattern
  // One error handler for every route: refusals answer with their status and a plain-text reason.
  http.setErrorHandler(errorHandler(config.http.maxSdpBytes));
  http.setNotFoundHandler(notFoundHandler);
  try {
    // The control API's OpenAPI document (GET /api/openapi.json): every /api route with a schema.
    await http.register(swagger, {
      openapi: { info: { title: 'whipcast control API', version: '1' }, components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } }, security: [{ admin: [] }] },
      transform: ({ schema, url }) => ({ schema: url.startsWith('/api/') ? schema : { ...schema, hide: true }, url }),
    });
    // CORS headers on every response; the WHIP/WHEP OPTIONS routes answer preflights themselves (with Link).
    // The allowed origins are the request's domain's corsOrigins, or http.corsOrigin.
    const corsOptions = (origin: string | string[]) => ({ origin, preflight: false, exposedHeaders: ['Location', 'ETag', 'Link', 'Accept-Patch', 'Accept-Post'] });
    await http.register(cors, { delegator: (request, callback) => callback(null, corsOptions(domains.resolve(request.headers.host ?? '').corsOrigins ?? config.http.corsOrigin)) });
    await http.register(signaling, { gate: registry, sessions, iceServers: config.iceServers, maxSdpBytes: config.http.maxSdpBytes });
    const extras = {
      relays: (stream: LiveStream) => relays.statusOf(stream),
      recording: (stream: LiveStream) => recording.stateOf(stream.app, stream.stream, stream.ingestDomain) ?? null,
      hls: (stream: LiveStream) => ({ running: hls.isRunning(stream) }),
      rendition: (stream: LiveStream) => transcoder.statusOf(stream),
      renditions: (stream: LiveStream) => transcoder.renditionsOf(stream),
    };
    await http.register(controlApi, { sfu, registry, relays, extras, adminToken: config.auth.adminToken, isReady: () => ready, sessions, domains, rtmpPort: () => rtmpPort ?? config.rtmp.port, denials, recording, transcoder });
    await http.register(events, { registry, extras, adminToken: config.auth.adminToken, denials, onReport: metrics.viewerReport }); // dashboard feed, viewer reports
    if (config.standard.enabled) await http.register(live, { registry, hls, ladder: transcoder, domains });
    await http.register(metricsRoute, { metrics });
    await http.register(time); // public server clock (web-demo/clock.js)
    await http.register(fastifyStatic, { root: webDemoRoot(), prefix: '/' });
    // hls.js for play.html's HLS mode, from its npm package (no CDN): the light ESM build only.
    await http.register(fastifyStatic, { root: hlsJsRoot(), prefix: '/vendor/hls.js/', decorateReply: false, allowedPath: (path) => HLS_JS_FILES.has(path) });
    await http.listen({ host: config.http.host, port: config.http.port });
    rtmpPort = await rtmp.listen();
  } catch (error) {
    await rtmp.close();
    await transcoder.close();
    await recording.close(); // recording
    await http.close();
    callbacks.close();
    sfu.close();
    throw error;
  }

  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const httpUrl = `${tls ? 'https' : 'http'}://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${port}`;
  logger.info(`HTTP (WHIP, WHEP, API, demo) listening on ${config.http.host}:${port}`);
  logger.info(`RTMP ingest listening on ${config.rtmp.host}:${rtmpPort}`);
  logger.info(`WebRTC media listening on UDP+TCP ${listen.map((l) => l.ip).join(', ')} port(s) ${sfu.ports.join(', ')}${config.rtc.announcedIp ? ` announced as ${config.rtc.announcedIp}` : ''}`);
  ready = true;

  let closing: Promise<void> | undefined;
  return {
    config,
    http,
    sfu,
    registry,
    sessions,
    rtmp,
    recording,
    transcoder,
    relays,
    hls,
    rtmpPort,
    logger,
    httpUrl,
    close: () =>
      (closing ??= (async () => {
        ready = false;
        await rtmp.close();
        registry.closeAll('server shutting down');
        sessions.closeAll('server shutting down');
        await transcoder.close(); // every rendition's FFmpeg has exited
        // recording: the streams are over; finalise every open recording now (no splice wait), nothing lost
        await recording.close();
        await Promise.all([relays.close(), hls.close()]);
        await http.close();
        callbacks.close(); // stops retries; deliveries in flight finish
        sfu.close();
        if (config.standard.hlsDirectory === undefined) await rm(hlsRoot, { recursive: true, force: true });
      })()),
  };
}

const HLS_JS_FILES = new Set(['/hls.light.min.mjs', '/hls.light.min.mjs.map']);

function hlsJsRoot(): string {
  return join(dirname(createRequire(import.meta.url).resolve('hls.js/package.json')), 'dist');
}

function webDemoRoot(): string {
  // src/ in tests, dist/src/ when built: the demo pages sit at the project root either way.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'web-demo')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'web-demo');
}
