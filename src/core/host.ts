// Hosts as domains are matched: a Host header or an RTMP tcUrl host, without its port, lowercased.

/** A Host header or RTMP host without its port (IPv6 literals keep their brackets off), lowercased. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return bracketed[1] ?? h;
  // One colon: name:port. More: a bare IPv6 literal, kept whole.
  return h.split(':').length === 2 ? h.replace(/:\d*$/, '') : h;
}
