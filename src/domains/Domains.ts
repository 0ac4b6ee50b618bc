// Domains: a request's Host header (or an RTMP tcUrl's host) names the domain whose settings apply: latency
// mode, signing keys, referer and IP lists, CORS origins. Ingest domains receive streams, streaming domains serve
// them (each associated with an ingest domain); a domain without a type does both. Hosts that match no configured
// domain get the default domain, built from the top-level settings, so localhost works without configuration.
import type { Config } from '../config.js';
import { accessListProblems } from '../auth/lists.js';

export type LatencyMode = 'sub-second' | 'half-second';
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
}

export const DEFAULT_VALIDITY_MINUTES = 1440;

/** A Host header or RTMP host without its port (IPv6 literals keep their brackets off), lowercased. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return bracketed[1] ?? h;
  // One colon: name:port. More: a bare IPv6 literal, kept whole.
  return h.split(':').length === 2 ? h.replace(/:\d*$/, '') : h;
}

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
    const problems = [...domainProblems(next), ...listProblems(domain)];
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
}

/** Problems in the domains section a schema cannot express (for config validation). */
export function domainProblems(domains: Config['domains']): string[] {
  const problems: string[] = [];
  const types = new Map(domains.map((d) => [hostName(d.host), d.type ?? 'both']));
  domains.forEach((d, i) => {
    if (d.ingestDomain === undefined) return;
    if ((d.type ?? 'both') !== 'streaming') problems.push(`/domains/${i}/ingestDomain: only a streaming domain has an ingest domain`);
    const target = types.get(hostName(d.ingestDomain));
    if (target === undefined) problems.push(`/domains/${i}/ingestDomain: ${d.ingestDomain} is not a configured domain`);
    else if (target === 'streaming') problems.push(`/domains/${i}/ingestDomain: ${d.ingestDomain} is a streaming domain, not an ingest domain`);
  });
  if (new Set(types.keys()).size !== domains.length) problems.push('/domains: a host is listed twice');
  return problems;
}

/** IP and referer list problems of one domain (for changes made at run time). */
function listProblems(domain: DomainConfig): string[] {
  return accessListProblems({ domains: [domain] });
}
