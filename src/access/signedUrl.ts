// Signed URLs, method A: auth_key=<timestamp>-<rand>-<uid>-<md5hash>,
// md5hash = md5("<path>-<timestamp>-<rand>-<uid>-<key>") in lowercase hex, valid until timestamp + validity.
import { createHash, timingSafeEqual } from 'node:crypto';

export function signAuthKey(path: string, key: string, timestamp: number, rand: string | number = '0', uid: string | number = '0'): string {
  return `${timestamp}-${rand}-${uid}-${md5(`${path}-${timestamp}-${rand}-${uid}-${key}`)}`;
}

export type AuthKeyCheck = { ok: true; expiresAt: Date; key: 'primary' | 'secondary' } | { ok: false; denial: 'missing_key' | 'malformed_key' | 'bad_hash' | 'expired'; reason: string };

export interface VerifyOptions {
  primaryKey?: string | undefined;
  secondaryKey?: string | undefined;
  validityMinutes: number;
  /** Milliseconds since the epoch (default: now). */
  now?: number;
}

/** Checks an auth_key against the request path; the reason says exactly what is wrong (missing, malformed, bad hash, expired). */
export function verifyAuthKey(authKey: string | undefined, path: string, options: VerifyOptions): AuthKeyCheck {
  if (authKey === undefined || authKey === '') return { ok: false, denial: 'missing_key', reason: 'auth_key missing' };
  // rand and uid sit between the timestamp and the hash; the hash covers them joined by "-" either way.
  const match = /^(\d{1,12})-(.+)-([0-9a-fA-F]{32})$/.exec(authKey);
  if (!match?.[1] || !match[2] || !match[3] || !match[2].includes('-')) return { ok: false, denial: 'malformed_key', reason: 'auth_key malformed: expected <timestamp>-<rand>-<uid>-<md5hash>' };
  const [, timestamp, middle, hash] = match;
  const given = Buffer.from(hash.toLowerCase(), 'hex');
  // Both keys are always hashed and compared in constant time: timing says neither which nor how much matched.
  const primary = options.primaryKey !== undefined && timingSafeEqual(given, md5Raw(`${path}-${timestamp}-${middle}-${options.primaryKey}`));
  const secondary = options.secondaryKey !== undefined && timingSafeEqual(given, md5Raw(`${path}-${timestamp}-${middle}-${options.secondaryKey}`));
  if (!primary && !secondary) return { ok: false, denial: 'bad_hash', reason: `auth_key invalid: bad hash for ${path}` };
  const expiresAt = new Date((Number(timestamp) + options.validityMinutes * 60) * 1000);
  if ((options.now ?? Date.now()) > expiresAt.getTime()) return { ok: false, denial: 'expired', reason: `auth_key expired at ${expiresAt.toISOString().replace(/\.000Z$/, 'Z')}` };
  return { ok: true, expiresAt, key: primary ? 'primary' : 'secondary' };
}

/** Whether a value has the shape of an auth_key (OBS's Bearer Token field may carry one). */
export function looksLikeAuthKey(value: string): boolean {
  return /^\d{1,12}-.+-.+-[0-9a-fA-F]{32}$/.test(value);
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function md5Raw(text: string): Buffer {
  return createHash('md5').update(text).digest();
}

/**
 * The auth_key of another path with the same timestamp, rand and uid (so the same expiry) as `authKey`, which has
 * been verified: how a multivariant playlist signs the playlists of its variants. undefined for a malformed key.
 */
export function resignAuthKey(authKey: string, path: string, key: string): string | undefined {
  const match = /^(\d{1,12})-(.+)-(.+)-[0-9a-fA-F]{32}$/.exec(authKey);
  if (!match?.[1] || match[2] === undefined || match[3] === undefined) return undefined;
  return signAuthKey(path, key, Number(match[1]), match[2], match[3]);
}
