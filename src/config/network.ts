// Which addresses WebRTC media binds to and announces. Chromium answers a 127.0.0.1 candidate from the
// host's own address, and a socket bound to 0.0.0.0 replies from another source address than it was reached
// on, so by default we bind each local IPv4 address exactly and announce it as itself.
import { networkInterfaces } from 'node:os';
import type { ListenAddress } from '../../sfu/index.js';
import type { Config } from './config.js';

export function listenAddresses(rtc: Config['rtc']): ListenAddress[] {
  if (rtc.listenIps) return rtc.listenIps.map((l) => (l.announcedIp ? { ip: l.ip, announcedIp: l.announcedIp } : { ip: l.ip }));
  if (rtc.announcedIp) return [{ ip: '0.0.0.0', announcedIp: rtc.announcedIp }];
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
  return [...new Set(['127.0.0.1', ...addresses])].map((ip) => ({ ip }));
}
