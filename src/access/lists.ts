// Referer and client-IP lists of a domain. IP lists hold addresses and CIDR ranges, IPv4 and IPv6 (node:net
// BlockList; an IPv4-mapped IPv6 client address such as ::ffff:192.0.2.1 is matched as IPv4). Referer lists hold
// hosts, with `*` wildcards (`*.example.com` matches sub.example.com; a bare `example.com` also matches its
// subdomains), or full URL prefixes. Deny lists win over allow lists; an empty allow list means "everyone".
import { BlockList, isIP } from 'node:net';
import { addIpListEntry } from '../config/domains.js';

export class IpList {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) addIpListEntry(this.list, entry);
    this.size = entries.length;
  }

  has(ip: string): boolean {
    const address = normalizeIp(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Strips an IPv6 zone and unwraps IPv4-mapped IPv6 addresses (what a dual-stack socket reports for IPv4 peers). */
export function normalizeIp(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** The host of a Referer header, lowercased; undefined when it is not a URL. */
export function refererHost(referer: string): string | undefined {
  try {
    return new URL(referer).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/** Whether a Referer matches one list entry: a host pattern with `*` wildcards, or a URL prefix (with "://"). */
export function refererMatches(referer: string, pattern: string): boolean {
  const p = pattern.trim().toLowerCase();
  if (p.includes('://')) return wildcard(p + (p.endsWith('*') ? '' : '*')).test(referer.toLowerCase());
  const host = refererHost(referer);
  if (host === undefined) return false;
  if (p.includes('*')) return wildcard(p).test(host);
  return host === p || host.endsWith(`.${p}`);
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}
