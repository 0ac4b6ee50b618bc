// Domains in the configuration (the `domains` list, and the default domain's top-level settings): their schema,
// and the checks a schema cannot express (domains that refer to each other consistently, IP list entries that
// parse), run when the config is loaded and when the control API changes a domain.
import { BlockList, isIP } from 'node:net';
import { Type, type Static } from 'typebox';
import { hostName } from '../core/host.js';

export const LatencyMode = Type.Union([Type.Literal('sub-second'), Type.Literal('half-second')], { default: 'sub-second' });

// Access control (src/access): per domain, or top-level for the default domain.
const StringList = Type.Array(Type.String({ minLength: 1 }));
/** Referer lists of playback requests: exact hosts or wildcards (*.example.com), deny before allow. */
export const RefererSchema = Type.Object({ allow: Type.Optional(StringList), deny: Type.Optional(StringList), allowEmpty: Type.Boolean({ default: true }) }, { additionalProperties: false });
/** Client address lists: addresses or CIDR ranges, IPv4 and IPv6; deny before allow. */
export const IpListSchema = Type.Object({ allow: Type.Optional(StringList), deny: Type.Optional(StringList) }, { additionalProperties: false });
export const SigningKeys = {
  /** Signed URLs (method A, README "Access control"): with a key, every publish and play needs a valid auth_key. */
  primaryKey: Type.Optional(Type.String({ minLength: 1 })),
  /** Also accepted, for key rotation. */
  secondaryKey: Type.Optional(Type.String({ minLength: 1 })),
};
/**
 * How long a stream whose publisher left waits for a new one, its WebRTC viewers kept (README "Continuity");
 * 0: the stream ends with its publisher.
 */
export const GraceSeconds = Type.Number({ minimum: 0, maximum: 3600 });
export const DomainSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    latencyMode: LatencyMode,
    /** ingest (receives streams), streaming (serves them) or, when left out, both. */
    type: Type.Optional(Type.Union([Type.Literal('ingest'), Type.Literal('streaming')])),
    /** For a streaming domain: the ingest domain its streams come from. */
    ingestDomain: Type.Optional(Type.String({ minLength: 1 })),
    auth: Type.Optional(
      Type.Object({ ...SigningKeys, validityMinutes: Type.Integer({ minimum: 1, default: 1440 }) }, { additionalProperties: false }),
    ),
    referer: Type.Optional(RefererSchema),
    ip: Type.Optional(IpListSchema),
    /** Origins allowed to call this domain from a browser (default: http.corsOrigin). */
    corsOrigins: Type.Optional(StringList),
    /** This domain's reconnect grace (default: continuity.graceSeconds). */
    continuity: Type.Optional(Type.Object({ graceSeconds: GraceSeconds }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type DomainConfig = Static<typeof DomainSchema>;
type IpLists = Static<typeof IpListSchema>;

/** Adds one IP list entry (an address or a CIDR range, IPv4 or IPv6) to a BlockList; throws saying what is wrong. */
export function addIpListEntry(list: BlockList, entry: string): void {
  const [address = '', prefix] = entry.trim().split('/', 2);
  const family = isIP(address);
  if (family === 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) return list.addAddress(address, type);
  const bits = Number(prefix);
  if (!/^\d+$/.test(prefix) || bits > (family === 6 ? 128 : 32)) throw new Error(`"${entry}" has a bad prefix length`);
  list.addSubnet(address, bits, type);
}

/** Config validation: every IP list entry must parse. */
export function accessListProblems(config: { domains: readonly DomainConfig[]; ip?: IpLists | undefined }): string[] {
  const problems: string[] = [];
  const check = (where: string, entries: readonly string[] | undefined): void => {
    for (const entry of entries ?? []) {
      try {
        addIpListEntry(new BlockList(), entry);
      } catch (error) {
        problems.push(`${where}: ${(error as Error).message}`);
      }
    }
  };
  check('/ip/allow', config.ip?.allow);
  check('/ip/deny', config.ip?.deny);
  config.domains.forEach((d, i) => {
    check(`/domains/${i}/ip/allow`, d.ip?.allow);
    check(`/domains/${i}/ip/deny`, d.ip?.deny);
  });
  return problems;
}

/** Problems in the domains section a schema cannot express (for config validation). */
export function domainProblems(domains: readonly DomainConfig[]): string[] {
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
