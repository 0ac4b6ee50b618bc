// Domains: a request's Host header (or an RTMP tcUrl's host) names the domain whose settings apply: latency
// mode, signing keys, referer and IP lists, CORS origins. Ingest domains receive streams, streaming domains serve
// them (each associated with an ingest domain); a domain without a type does both. Hosts that match no configured
// domain get the default domain, built from the top-level settings, so localhost works without configuration.
import { hostName, type LatencyMode } from '../core/index.js';
import type { Config } from '../config/config.js';
import { accessListProblems, domainProblems } from '../config/domains.js';

export type DomainType = 'ingest' | 'streaming' | 'both';

export interface DomainSettings {
  /** The configured host, or undefined for the default domain. */
  host: string | undefined;
  type: DomainType;
  /** For a streaming domain: the ingest domain its streams come from. */
  ingestDomain: string | undefined;
  latencyMode: LatencyMode;
  auth: { primaryKey: string | undefined; secondaryKey: string | undefined; validityMinutes: number };
  referer: { allow: string[] | undefined; deny: string[] | undefined; allowEmpty: boolean };
  ip: { allow: string[] | undefined; deny: string[] | undefined };
  corsOrigins: string[] | undefined;
  /** The domain's reconnect grace, seconds (undefined: the top-level one). */
  graceSeconds: number | undefined;
}

export const DEFAULT_VALIDITY_MINUTES = 1440;

export type DomainConfig = Config['domains'][number];

export class Domains {
  readonly default: DomainSettings;
  private readonly byHost = new Map<string, DomainSettings>();
  /** The configured form of each domain (for the control API and validation of changes). */
  private readonly configs = new Map<string, DomainConfig>();

  constructor(config: Pick<Config, 'domains' | 'latencyMode' | 'auth'> & Partial<Pick<Config, 'referer' | 'ip'>>) {
    this.default = {
      host: undefined,
      type: 'both',
      ingestDomain: undefined,
      latencyMode: config.latencyMode,
      auth: { primaryKey: config.auth.primaryKey, secondaryKey: config.auth.secondaryKey, validityMinutes: config.auth.validityMinutes ?? DEFAULT_VALIDITY_MINUTES },
      referer: { allow: config.referer?.allow, deny: config.referer?.deny, allowEmpty: config.referer?.allowEmpty ?? true },
      ip: { allow: config.ip?.allow, deny: config.ip?.deny },
      corsOrigins: undefined,
      graceSeconds: undefined,
    };
    for (const d of config.domains) this.add(d);
  }

  private add(d: DomainConfig): DomainSettings {
    const settings: DomainSettings = {
      host: hostName(d.host),
      type: d.type ?? 'both',
      ingestDomain: d.ingestDomain === undefined ? undefined : hostName(d.ingestDomain),
      latencyMode: d.latencyMode,
      auth: { primaryKey: d.auth?.primaryKey, secondaryKey: d.auth?.secondaryKey, validityMinutes: d.auth?.validityMinutes ?? DEFAULT_VALIDITY_MINUTES },
      referer: { allow: d.referer?.allow, deny: d.referer?.deny, allowEmpty: d.referer?.allowEmpty ?? true },
      ip: { allow: d.ip?.allow, deny: d.ip?.deny },
      corsOrigins: d.corsOrigins,
      graceSeconds: d.continuity?.graceSeconds,
    };
    this.byHost.set(hostName(d.host), settings);
    this.configs.set(hostName(d.host), d);
    return settings;
  }

  /**
   * Adds or replaces a domain; requests from now on get its settings (sessions already admitted are not affected).
   * Returns the problems (as domainProblems reports them) instead of applying a change that would leave the
   * domains inconsistent.
   */
  set(domain: DomainConfig): string[] {
    const next = [...this.configs.values()].filter((d) => hostName(d.host) !== hostName(domain.host)).concat(domain);
    const problems = [...domainProblems(next), ...accessListProblems({ domains: [domain] })];
    if (problems.length === 0) this.add(domain);
    return problems;
  }

  /** Removes a domain (its host falls back to the default domain); the problems if others depend on it. */
  remove(host: string): string[] | undefined {
    const name = hostName(host);
    if (!this.configs.has(name)) return undefined;
    const problems = domainProblems([...this.configs.values()].filter((d) => hostName(d.host) !== name));
    if (problems.length > 0) return problems;
    this.configs.delete(name);
    this.byHost.delete(name);
    return [];
  }

  /** The configured form of the domains (as in the config file). */
  configured(): DomainConfig[] {
    return [...this.configs.values()];
  }

  /** The settings of the domain a request came to: its configured entry, or the default domain. */
  resolve(host: string): DomainSettings {
    return this.byHost.get(hostName(host)) ?? this.default;
  }

  /** The configured domains (the default domain not included). */
  list(): DomainSettings[] {
    return [...this.byHost.values()];
  }

  /**
   * Where a publish to `host` lands: the ingest domain its stream belongs to (undefined: the default domain), and
   * the latency mode it is published under. An ingest-only domain is half-second only when every streaming
   * domain associated with it is (WebRTC-only delivery then has no use for RTMP ingest or recording).
   */
  ingestOf(host: string): { ingestDomain: string | undefined; latencyMode: LatencyMode } {
    const domain = this.resolve(host);
    if (domain.type !== 'ingest') return { ingestDomain: domain.host, latencyMode: domain.latencyMode };
    const streaming = this.list().filter((d) => d.type === 'streaming' && d.ingestDomain === domain.host);
    const halfSecondOnly = streaming.length > 0 && streaming.every((d) => d.latencyMode === 'half-second');
    return { ingestDomain: domain.host, latencyMode: halfSecondOnly ? 'half-second' : 'sub-second' };
  }

  /**
   * What a play request to `host` may watch: streams of this ingest domain (a streaming domain's associated one,
   * or a domain's own when it does both; undefined: the default domain), in this latency mode (the streaming
   * domain's, as the latency mode is chosen per streaming domain).
   */
  playOf(host: string): { ingestDomain: string | undefined; latencyMode: LatencyMode } {
    const domain = this.resolve(host);
    return { ingestDomain: domain.type === 'streaming' ? domain.ingestDomain : domain.host, latencyMode: domain.latencyMode };
  }
}
