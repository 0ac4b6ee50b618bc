// Configuration: embedded defaults < config file (YAML or JSON) < environment variables < command-line flags,
// validated by one schema. A bad value stops startup with a message naming the setting.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { accessListProblems, DomainSchema, domainProblems, GraceSeconds, IpListSchema, LatencyMode, RefererSchema, SigningKeys } from './domains.js';
import { recordingConfigProblems, RecordingConfigSchema } from './recording.js'; // recording
import { transcodingConfigProblems, TranscodingConfigSchema } from './transcoding.js';

const Port = (fallback: number) => Type.Integer({ minimum: 0, maximum: 65535, default: fallback });
export const RelayRuleSchema = Type.Object(
  {
    /** Matched like recording templates: exact names or "*". */
    domain: Type.String({ minLength: 1, default: '*' }),
    app: Type.String({ minLength: 1, default: '*' }),
    stream: Type.String({ minLength: 1, default: '*' }),
    /** Target; {app} and {stream} (or {AppName}, {StreamName}) are replaced, e.g. rtmp://cdn.example/live/{stream}. */
    url: Type.String({ pattern: '^rtmps?://' }),
  },
  { additionalProperties: false },
);
export type RelayRule = Static<typeof RelayRuleSchema>;

export const ConfigSchema = Type.Object(
  {
    http: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0' }),
        port: Port(8080),
        /** Largest SDP/sdpfrag body accepted (413 above). */
        maxSdpBytes: Type.Integer({ minimum: 1024, maximum: 1048576, default: 65536 }),
        /** Origins allowed to call the WHIP/WHEP endpoints from a browser ("*" for any). */
        corsOrigin: Type.Union([Type.String(), Type.Array(Type.String())], { default: '*' }),
        /** Serve HTTPS from these PEM files (certificate chain and private key). */
        tls: Type.Optional(Type.Object({ cert: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
        /** Behind a reverse proxy: take the client address from X-Forwarded-For (fastify trustProxy). */
        trustProxy: Type.Boolean({ default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
    rtmp: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0' }),
        port: Port(1935),
        /**
         * Timestamps of what the bridge sends to WebRTC viewers: "arrival" (when each frame reached the server: the
         * browser shows frames as they come, without buffering for the encoder's key-frame bursts) or "source" (the
         * encoder's own: smoother for an encoder whose frames arrive unevenly, ~70 ms more latency at a 1 s GOP).
         */
        timestamps: Type.Union([Type.Literal('arrival'), Type.Literal('source')], { default: 'arrival' }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Latency mode of the default domain: "half-second" domains are WebRTC only (no RTMP ingest). */
    latencyMode: LatencyMode,
    /** Per-host settings (the request's Host / RTMP tcUrl host); other hosts use the default domain. */
    domains: Type.Array(DomainSchema, { default: [] }),
    /** Referer lists of the default domain (playback only). */
    referer: Type.Optional(RefererSchema),
    /** Client IP lists of the default domain. */
    ip: Type.Optional(IpListSchema),
    rtc: Type.Object(
      {
        /** WebRTC media port of worker 0; worker i uses port + i (UDP and TCP). */
        port: Port(40000),
        /** Public address to put in ICE candidates (NAT). With it, media binds 0.0.0.0 unless listenIps says otherwise. */
        announcedIp: Type.Optional(Type.String({ minLength: 1 })),
        /** Exact addresses to bind; default: every local IPv4 address, each announced as itself. */
        listenIps: Type.Optional(Type.Array(Type.Object({ ip: Type.String({ minLength: 1 }), announcedIp: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false }), { minItems: 1 })),
        /** mediasoup workers; 0 = one per CPU core. */
        workers: Type.Integer({ minimum: 0, maximum: 64, default: 0 }),
        /** Viewers a worker serves before a stream's new viewers go to another worker through pipeToRouter. */
        viewersPerWorker: Type.Integer({ minimum: 1, default: 500 }),
        initialAvailableOutgoingBitrate: Type.Integer({ minimum: 100000, default: 1500000 }),
        iceConnectTimeoutMs: Type.Integer({ minimum: 1000, default: 30000 }),
        iceDisconnectTimeoutMs: Type.Integer({ minimum: 1000, default: 5000 }),
        /** A session that receives nothing (no RTP, no RTCP) this long is closed. */
        inactivityTimeoutMs: Type.Integer({ minimum: 1000, default: 6000 }),
        logLevel: Type.Union([Type.Literal('debug'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('none')], { default: 'warn' }),
      },
      { default: {}, additionalProperties: false },
    ),
    continuity: Type.Object(
      {
        /** Reconnect grace of the default domain (and of domains without their own), seconds. */
        graceSeconds: Type.Number({ ...GraceSeconds, default: 10 }),
        /** Per app, over the domain's: {"events": 30}. */
        apps: Type.Record(Type.String({ minLength: 1 }), GraceSeconds, { default: {} }),
        /** A stream's backup publisher (`?backup=1`): when it takes over, and when the primary takes back. */
        backup: Type.Object(
          {
            /** The active publisher has failed after this long without media (the other delivering). */
            failoverMs: Type.Integer({ minimum: 100, maximum: 60000, default: 500 }),
            /** A revert waits for the primary to deliver this long without a break, and this long since the last switch. */
            holdSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 5 }),
            /** auto: back to the primary by itself; manual: only POST /api/streams/{app}/{stream}/source switches back. */
            revert: Type.Union([Type.Literal('auto'), Type.Literal('manual')], { default: 'auto' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        /** If set, WHIP publishers must send `Authorization: Bearer <publishToken>`. */
        publishToken: Type.Optional(Type.String({ minLength: 1 })),
        /** If set, WHEP viewers must send `Authorization: Bearer <playToken>`. */
        playToken: Type.Optional(Type.String({ minLength: 1 })),
        /** Per-stream publish keys, `{"live/cam1": "key"}`: that stream's publisher must send its own key instead of publishToken. */
        streamKeys: Type.Record(Type.String({ pattern: '^[^/]+/[^/]+$' }), Type.String({ minLength: 1 }), { default: {} }),
        /** If set, /api/* requires `Authorization: Bearer <adminToken>`; without it /api/* answers loopback only. */
        adminToken: Type.Optional(Type.String({ minLength: 1 })),
        /** Signing keys of the default domain (signed URLs, method A). */
        ...SigningKeys,
        /** auth_key validity after its timestamp, in minutes (default 1440). */
        validityMinutes: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      { default: {}, additionalProperties: false },
    ),
    /** A second publisher on a live name: refuse it (409) or let it take over (the first is disconnected). */
    publishConflict: Type.Union([Type.Literal('reject'), Type.Literal('takeover')], { default: 'reject' }),
    iceServers: Type.Array(
      Type.Object(
        { urls: Type.Array(Type.String({ pattern: '^(stun|stuns|turn|turns):' }), { minItems: 1 }), username: Type.Optional(Type.String()), credential: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    /** The embedded standard-latency domain: HLS and HTTP-FLV playback of live streams under /live/. */
    standard: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /** HLS target segment duration (segments are cut at key frames). */
        hlsSegmentSeconds: Type.Number({ minimum: 0.5, maximum: 10, default: 1 }),
        /** Segments listed in the live playlist. */
        hlsListSize: Type.Integer({ minimum: 3, maximum: 30, default: 6 }),
        /** A stream's HLS muxer stops after this long without a playlist request (it starts on the first one). */
        hlsIdleSeconds: Type.Integer({ minimum: 5, default: 30 }),
        /** Where live HLS segments are written (a temporary directory by default). */
        hlsDirectory: Type.Optional(Type.String({ minLength: 1 })),
        /** WebRTC publishers are asked for a key frame this often while their stream is on the standard side. */
        keyFrameIntervalMs: Type.Integer({ minimum: 250, maximum: 10000, default: 1000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Relays: push matching live streams to other RTMP servers (nginx-rtmp, SRS, a CDN's ingest). */
    relays: Type.Array(RelayRuleSchema, { default: [] }),
    /** Recording: templates, storage directory, on-demand and event callbacks (src/recording). */
    recording: RecordingConfigSchema,
    /** Transcoding: templates, ladders, the rendition limit and the on-demand idle time (src/media/transcoding). */
    transcoding: TranscodingConfigSchema,
    /** GET /metrics: per-stream labels (app, stream) on the media gauges only when the number of streams is bounded. */
    metrics: Type.Object({ perStreamLabels: Type.Boolean({ default: false }) }, { default: {}, additionalProperties: false }),
    /** Event callbacks (publish, unpublish, play, stop_play; recording events too): signed JSON POSTs (src/notify). */
    callbacks: Type.Object(
      {
        url: Type.Optional(Type.String({ pattern: '^https?://' })),
        /** HMAC-SHA256 key of the X-Whipcast-Signature header (no signature without it). */
        secret: Type.Optional(Type.String({ minLength: 1 })),
        /** Waits before each retry (their number is the number of retries). */
        retryDelaysMs: Type.Array(Type.Integer({ minimum: 0, maximum: 600000 }), { maxItems: 10, default: [1000, 2000, 4000] }),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000 }),
        /** Events waiting or in flight; beyond it new events are dropped (and logged). */
        queueSize: Type.Integer({ minimum: 1, maximum: 100000, default: 1000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Admission hook: asked (POST JSON, signed) before each publish and play is admitted (src/access/AdmissionHook.ts). */
    admission: Type.Object(
      {
        url: Type.Optional(Type.String({ pattern: '^https?://' })),
        /** Signature key (default: callbacks.secret). */
        secret: Type.Optional(Type.String({ minLength: 1 })),
        timeoutMs: Type.Integer({ minimum: 50, maximum: 60000, default: 2000 }),
        /** What a timeout, an error or an invalid answer means. */
        default: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { default: 'deny' }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** 0 = unlimited. Refusals: 503 (publishers, viewers) and 429 (sessions per IP) (src/access/Limits.ts). */
    limits: Type.Object(
      {
        maxPublishers: Type.Integer({ minimum: 0, default: 0 }),
        maxViewersPerStream: Type.Integer({ minimum: 0, default: 0 }),
        maxViewersTotal: Type.Integer({ minimum: 0, default: 0 }),
        /** WHIP, WHEP and RTMP session creations per client address in any 60 s. */
        sessionsPerIpPerMinute: Type.Integer({ minimum: 0, default: 0 }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      { level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }) },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates a partial config and fills in every default. */
export function resolveConfig(input: unknown): Config {
  const value = Value.Default(ConfigSchema, structuredClone(input ?? {}));
  // transcoding: ranges and choices named with what they may be, before the schema's generic messages
  const transcodingProblems = transcodingConfigProblems((value as { transcoding?: unknown }).transcoding);
  if (transcodingProblems.length > 0) throw new ConfigError(`invalid configuration:\n  ${transcodingProblems.join('\n  ')}`);
  const errors = Value.Errors(ConfigSchema, value);
  if (errors.length > 0) {
    const lines = errors.slice(0, 10).map((e) => `${e.instancePath || '/'}: ${e.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  // recording: template ranges, with messages naming the field and its range
  const recordingProblems = recordingConfigProblems((value as Config).recording);
  if (recordingProblems.length > 0) throw new ConfigError(`invalid configuration:\n  ${recordingProblems.join('\n  ')}`);
  const accessProblems = [...domainProblems((value as Config).domains), ...accessListProblems(value as Config)];
  if (accessProblems.length > 0) throw new ConfigError(`invalid configuration:\n  ${accessProblems.join('\n  ')}`);
  return value as Config;
}

export function loadConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`cannot parse config file ${path}: ${(error as Error).message}`);
  }
}

type Overrides = Record<string, string | undefined>;

/** Settings that can also come from the environment or the command line: [flag, env var, config path, numeric]. */
const OVERRIDABLE: [string, string, string[], boolean][] = [
  ['http-port', 'WHIPCAST_HTTP_PORT', ['http', 'port'], true],
  ['rtmp-port', 'WHIPCAST_RTMP_PORT', ['rtmp', 'port'], true],
  ['rtc-port', 'WHIPCAST_RTC_PORT', ['rtc', 'port'], true],
  ['announced-ip', 'WHIPCAST_ANNOUNCED_IP', ['rtc', 'announcedIp'], false],
  ['workers', 'WHIPCAST_WORKERS', ['rtc', 'workers'], true],
  ['log-level', 'WHIPCAST_LOG_LEVEL', ['log', 'level'], false],
  ['publish-token', 'WHIPCAST_PUBLISH_TOKEN', ['auth', 'publishToken'], false],
  ['admin-token', 'WHIPCAST_ADMIN_TOKEN', ['auth', 'adminToken'], false],
];

/** Builds the configuration from argv (without node and script) and the environment. */
export function configFromCommandLine(argv: string[], env: NodeJS.ProcessEnv): Config {
  const options: Record<string, { type: 'string' }> = { config: { type: 'string' } };
  for (const [flag] of OVERRIDABLE) options[flag] = { type: 'string' };
  let flags: Overrides;
  try {
    flags = parseArgs({ args: argv, options, strict: true }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const file = flags.config ?? env.WHIPCAST_CONFIG;
  const config = (file ? loadConfigFile(file) : {}) ?? {};
  if (typeof config !== 'object' || Array.isArray(config)) throw new ConfigError(`config file ${file ?? ''} must hold an object`);
  for (const [flag, envName, path, numeric] of OVERRIDABLE) {
    const raw = flags[flag] ?? env[envName];
    if (raw === undefined) continue;
    const value = numeric ? Number(raw) : raw;
    if (numeric && !Number.isInteger(value)) throw new ConfigError(`--${flag} / ${envName} must be an integer, got "${raw}"`);
    setPath(config as Record<string, unknown>, path, value);
  }
  return resolveConfig(config);
}

/** Workers to start: the configured number, or one per core. */
export function workerCount(config: Config): number {
  return config.rtc.workers > 0 ? config.rtc.workers : Math.max(1, cpus().length);
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] ?? ''] = value;
}
