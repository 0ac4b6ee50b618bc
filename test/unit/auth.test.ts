// Access control: signed URLs (method A) against known-answer vectors computed with md5sum, expiry, key
// rotation, tampering; referer wildcards; IPv4/IPv6 CIDR lists; domain resolution; AccessAuthorizer's order.
import { describe, expect, it } from 'vitest';
import { AccessAuthorizer } from '../../src/access/AccessAuthorizer.js';
import { StaticTokenAuthorizer } from '../../src/access/Authorizer.js';
import { IpList, refererMatches } from '../../src/access/lists.js';
import { looksLikeAuthKey, signAuthKey, verifyAuthKey } from '../../src/access/signedUrl.js';
import { ConfigError, resolveConfig } from '../../src/config/config.js';
import { Domains } from '../../src/access/Domains.js';
import { hostName, Refusal, type MediaRequest } from '../../src/core/index.js';
import { httpStatusOf } from '../../signaling/index.js';

// Frozen from another implementation: printf '%s' '<path>-<timestamp>-<rand>-<uid>-<key>' | md5sum
const VECTORS = [
  { path: '/live/cam1', key: 'secret', ts: 1700000000, rand: '0', uid: '0', hash: '8b111a46429058b7a280a530c3ce5557' },
  { path: '/live/cam1.m3u8', key: 'secret', ts: 1700000000, rand: '0', uid: '0', hash: '0f482a2ca88c425f9aa95d73ab4b2456' },
  { path: '/live/cam1.flv', key: 'secret', ts: 1700000000, rand: '0', uid: '0', hash: '638ea622b921cffd642611f9902383b1' },
  { path: '/live/cam1', key: 'rotated', ts: 1700000000, rand: '477b3bbc253f467b8def6711128c7bec', uid: '1001', hash: '574fc651e6322b55b4b7a8282295c2fb' },
];
const T0 = 1700000000 * 1000;

describe('signed URLs, method A', () => {
  it.each(VECTORS)('signs $path with $key as md5sum does', (v) => {
    expect(signAuthKey(v.path, v.key, v.ts, v.rand, v.uid)).toBe(`${v.ts}-${v.rand}-${v.uid}-${v.hash}`);
    expect(verifyAuthKey(`${v.ts}-${v.rand}-${v.uid}-${v.hash}`, v.path, { primaryKey: v.key, validityMinutes: 1440, now: T0 })).toMatchObject({ ok: true, key: 'primary' });
    expect(verifyAuthKey(`${v.ts}-${v.rand}-${v.uid}-${v.hash.toUpperCase()}`, v.path, { primaryKey: v.key, validityMinutes: 1440, now: T0 }).ok).toBe(true);
  });

  it('is valid until timestamp + validity, then says when it expired', () => {
    const key = '1700000000-0-0-8b111a46429058b7a280a530c3ce5557';
    const options = { primaryKey: 'secret', validityMinutes: 1440 };
    expect(verifyAuthKey(key, '/live/cam1', { ...options, now: T0 + 1440 * 60_000 }).ok).toBe(true);
    expect(verifyAuthKey(key, '/live/cam1', { ...options, now: T0 + 1440 * 60_000 + 1000 })).toEqual({ ok: false, denial: 'expired', reason: 'auth_key expired at 2023-11-15T22:13:20Z' });
    expect(verifyAuthKey(key, '/live/cam1', { primaryKey: 'secret', validityMinutes: 30, now: T0 + 31 * 60_000 })).toEqual({ ok: false, denial: 'expired', reason: 'auth_key expired at 2023-11-14T22:43:20Z' });
  });

  it('accepts the primary or the secondary key (rotation)', () => {
    const key = signAuthKey('/live/cam1', 'old', 1700000000);
    expect(verifyAuthKey(key, '/live/cam1', { primaryKey: 'new', secondaryKey: 'old', validityMinutes: 1440, now: T0 })).toMatchObject({ ok: true, key: 'secondary' });
    expect(verifyAuthKey(key, '/live/cam1', { primaryKey: 'new', validityMinutes: 1440, now: T0 }).ok).toBe(false);
    expect(verifyAuthKey(key, '/live/cam1', { secondaryKey: 'old', validityMinutes: 1440, now: T0 }).ok).toBe(true);
  });

  it('refuses tampering, other paths, malformed and missing keys with the reason', () => {
    const opts = { primaryKey: 'secret', validityMinutes: 1440, now: T0 };
    const bad = (k: string | undefined, path = '/live/cam1') => {
      const r = verifyAuthKey(k, path, opts);
      return r.ok ? 'ok' : r.reason;
    };
    expect(bad('1700000000-0-0-8b111a46429058b7a280a530c3ce5557')).toBe('ok');
    expect(bad('1700000001-0-0-8b111a46429058b7a280a530c3ce5557')).toBe('auth_key invalid: bad hash for /live/cam1'); // later timestamp
    expect(bad('1700000000-1-0-8b111a46429058b7a280a530c3ce5557')).toMatch(/bad hash/); // rand
    expect(bad('1700000000-0-0-8b111a46429058b7a280a530c3ce5558')).toMatch(/bad hash/); // hash
    expect(bad('1700000000-0-0-8b111a46429058b7a280a530c3ce5557', '/live/cam2')).toBe('auth_key invalid: bad hash for /live/cam2');
    expect(bad('1700000000-0-0-8b111a46429058b7a280a530c3ce5557', '/live/cam1.m3u8')).toMatch(/bad hash/);
    expect(bad(undefined)).toBe('auth_key missing');
    expect(bad('')).toBe('auth_key missing');
    expect(bad('1700000000-8b111a46429058b7a280a530c3ce5557')).toMatch(/^auth_key malformed/);
    expect(bad('abc-0-0-8b111a46429058b7a280a530c3ce5557')).toMatch(/^auth_key malformed/);
    expect(bad('1700000000-0-0-8b111a46')).toMatch(/^auth_key malformed/);
    expect(looksLikeAuthKey('1700000000-0-0-8b111a46429058b7a280a530c3ce5557')).toBe(true);
    expect(looksLikeAuthKey('my-static-token')).toBe(false);
  });
});

describe('referer lists', () => {
  it('matches hosts, subdomains, wildcards and URL prefixes', () => {
    expect(refererMatches('https://example.com/page', 'example.com')).toBe(true);
    expect(refererMatches('https://www.example.com/page', 'example.com')).toBe(true);
    expect(refererMatches('https://badexample.com/', 'example.com')).toBe(false);
    expect(refererMatches('https://a.b.example.com/', '*.example.com')).toBe(true);
    expect(refererMatches('https://example.com/', '*.example.com')).toBe(false);
    expect(refererMatches('http://cdn7.example.org:8080/x', 'cdn*.example.org')).toBe(true);
    expect(refererMatches('https://site.example/player/1', 'https://site.example/player/')).toBe(true);
    expect(refererMatches('https://site.example/other', 'https://site.example/player/')).toBe(false);
    expect(refererMatches('not a url', 'example.com')).toBe(false);
  });
});

describe('IP lists', () => {
  it('holds IPv4 and IPv6 addresses and CIDR ranges', () => {
    const list = new IpList(['192.0.2.0/24', '198.51.100.7', '2001:db8::/32', '::1']);
    expect(list.has('192.0.2.200')).toBe(true);
    expect(list.has('192.0.3.1')).toBe(false);
    expect(list.has('198.51.100.7')).toBe(true);
    expect(list.has('::ffff:192.0.2.9')).toBe(true); // IPv4-mapped, as a dual-stack socket reports it
    expect(list.has('2001:db8:ffff::1')).toBe(true);
    expect(list.has('2001:db9::1')).toBe(false);
    expect(list.has('::1')).toBe(true);
    expect(list.has('garbage')).toBe(false);
    expect(() => new IpList(['10.0.0.0/33'])).toThrow(/prefix/);
    expect(() => new IpList(['example.com'])).toThrow(/not an IP/);
  });
});

describe('domains', () => {
  it('keeps old domain entries loading and resolves hosts, with a default domain', () => {
    const config = resolveConfig({ latencyMode: 'sub-second', domains: [{ host: 'RealTime.example', latencyMode: 'half-second' }] });
    const domains = new Domains(config);
    expect(domains.playOf('realtime.example:8080').latencyMode).toBe('half-second');
    expect(domains.playOf('localhost').latencyMode).toBe('sub-second');
    expect(domains.resolve('realtime.example')).toMatchObject({ type: 'both', auth: { validityMinutes: 1440 }, referer: { allowEmpty: true } });
    expect(domains.resolve('other').host).toBeUndefined();
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('::1')).toBe('::1');
  });

  it('validates ingest associations and IP entries', () => {
    expect(() => resolveConfig({ domains: [{ host: 'play.example', type: 'streaming', ingestDomain: 'nowhere.example' }] })).toThrow(/not a configured domain/);
    expect(() => resolveConfig({ domains: [{ host: 'a', ip: { allow: ['10.0.0.0/99'] } }] })).toThrow(ConfigError);
    expect(() => resolveConfig({ ip: { deny: ['nope'] } })).toThrow(/\/ip\/deny/);
    const ok = resolveConfig({ domains: [{ host: 'push.example', type: 'ingest' }, { host: 'play.example', type: 'streaming', ingestDomain: 'push.example', auth: { primaryKey: 'k' } }] });
    expect(new Domains(ok).resolve('play.example')).toMatchObject({ type: 'streaming', ingestDomain: 'push.example', auth: { primaryKey: 'k', validityMinutes: 1440 } });
  });
});

describe('AccessAuthorizer', () => {
  const config = resolveConfig({
    auth: { primaryKey: 'default-key' },
    domains: [
      { host: 'push.example', type: 'ingest', auth: { primaryKey: 'secret', secondaryKey: 'old' }, ip: { deny: ['203.0.113.0/24'] } },
      {
        host: 'play.example', type: 'streaming', ingestDomain: 'push.example',
        referer: { allow: ['*.site.example'], deny: ['evil.site.example'], allowEmpty: false },
        ip: { allow: ['10.0.0.0/8', 'fd00::/8'] },
      },
    ],
  });
  const authorizer = new AccessAuthorizer(new Domains(config), new StaticTokenAuthorizer(config.auth), () => T0);
  const request = (over: Partial<MediaRequest>): MediaRequest => ({ app: 'live', stream: 'cam1', bearerToken: undefined, query: {}, ip: '10.1.2.3', host: 'push.example', path: '/whip/live/cam1', protocol: 'whip', ...over });
  const reason = (action: 'publish' | 'play', over: Partial<MediaRequest>) => {
    try {
      authorizer.authorize(action, request(over));
      return 'ok';
    } catch (error) {
      return `${httpStatusOf(error as Refusal)} ${(error as Refusal).reason}`;
    }
  };
  const signed = '1700000000-0-0-8b111a46429058b7a280a530c3ce5557';

  it('checks the signed URL of the domain, from the query or the Bearer token', () => {
    expect(reason('publish', { query: { auth_key: signed } })).toBe('ok');
    expect(reason('publish', { bearerToken: signed })).toBe('ok');
    expect(reason('publish', { query: { auth_key: signAuthKey('/live/cam1', 'old', 1700000000) } })).toBe('ok');
    expect(reason('publish', {})).toBe('403 auth_key missing');
    expect(reason('publish', { query: { auth_key: signed }, stream: 'cam2', path: '/whip/live/cam2' })).toBe('403 auth_key invalid: bad hash for /live/cam2');
    // the default domain has its own key
    expect(reason('publish', { host: 'localhost', query: { auth_key: signed } })).toMatch(/^403 auth_key invalid/);
    expect(reason('publish', { host: 'localhost', query: { auth_key: signAuthKey('/live/cam1', 'default-key', 1700000000) } })).toBe('ok');
  });

  it('applies IP lists, then referer lists on playback only, and the domain types', () => {
    expect(reason('publish', { query: { auth_key: signed }, ip: '203.0.113.9' })).toBe('403 client address 203.0.113.9 is denied');
    expect(reason('publish', { query: { auth_key: signed }, ip: '::ffff:203.0.113.9' })).toBe('403 client address 203.0.113.9 is denied');
    const play = { host: 'play.example', path: '/whep/live/cam1', referer: 'https://www.site.example/' };
    expect(reason('play', play)).toBe('ok');
    expect(reason('play', { ...play, ip: 'fd12::5' })).toBe('ok');
    expect(reason('play', { ...play, ip: '2001:db8::5' })).toBe('403 client address 2001:db8::5 is not allowed');
    expect(reason('play', { ...play, referer: 'https://evil.site.example/x' })).toBe('403 referer evil.site.example is denied');
    expect(reason('play', { ...play, referer: 'https://elsewhere.example/' })).toBe('403 referer elsewhere.example is not allowed');
    expect(reason('play', { ...play, referer: undefined })).toBe('403 an empty Referer is not allowed');
    expect(reason('publish', { ...play, referer: undefined })).toBe('403 play.example is a streaming domain: publish to its ingest domain push.example');
    expect(reason('play', { query: { auth_key: signed } })).toBe('403 push.example is an ingest domain: play from one of its streaming domains');
  });
});

describe('per-stream publish keys', () => {
  const request = (stream: string, bearerToken: string | undefined): MediaRequest => ({
    app: 'live', stream, bearerToken, query: {}, ip: '127.0.0.1', host: 'localhost', path: `/whip/live/${stream}`, referer: undefined, protocol: 'whip',
  });
  const authorizer = new StaticTokenAuthorizer({ publishToken: 'global', streamKeys: { 'live/cam1': 'cam1-key' } });

  it("take the place of the publish token for their stream only (OBS's Bearer Token field)", () => {
    expect(() => authorizer.authorize('publish', request('cam1', 'cam1-key'))).not.toThrow();
    expect(() => authorizer.authorize('publish', request('cam1', 'global'))).toThrow('invalid publish token');
    expect(() => authorizer.authorize('publish', request('cam1', undefined))).toThrow('publish requires Authorization: Bearer <token>');
    expect(() => authorizer.authorize('publish', request('cam2', 'global'))).not.toThrow();
    expect(() => authorizer.authorize('play', request('cam1', undefined))).not.toThrow();
  });
});
