// Checks of the configuration that its schema cannot express: domains that refer to each other consistently, and
// IP list entries that parse. Run when the config is loaded and when the control API changes a domain.
import { BlockList, isIP } from 'node:net';
import { hostName } from '../core/host.js';
import type { Config } from './config.js';

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
export function accessListProblems(config: Pick<Config, 'domains'> & Partial<Pick<Config, 'ip'>>): string[] {
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
