import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromCommandLine, resolveConfig } from '../../src/config/config.js';
import { listenAddresses } from '../../src/config/network.js';

describe('config', () => {
  it('has the embedded defaults the README documents', () => {
    const config = resolveConfig({});
    expect(config.http.port).toBe(8080);
    expect(config.rtmp.port).toBe(1935);
    expect(config.rtc.port).toBe(40000);
    expect(config.rtc.iceConnectTimeoutMs).toBe(30000);
    expect(config.publishConflict).toBe('reject');
    expect(config.auth).toEqual({ streamKeys: {} });
  });

  it('layers file < environment < flags', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whipcast-'));
    const file = join(dir, 'c.yaml');
    await writeFile(file, 'http:\n  port: 1000\nrtc:\n  port: 2000\n  workers: 2\nauth:\n  publishToken: from-file\n');
    const config = configFromCommandLine(['--config', file, '--rtc-port', '3000'], { WHIPCAST_HTTP_PORT: '1500', WHIPCAST_RTC_PORT: '2500', WHIPCAST_ANNOUNCED_IP: '203.0.113.7' });
    expect(config.http.port).toBe(1500);
    expect(config.rtc.port).toBe(3000);
    expect(config.rtc.workers).toBe(2);
    expect(config.rtc.announcedIp).toBe('203.0.113.7');
    expect(config.auth.publishToken).toBe('from-file');
  });

  it('reads JSON config files too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whipcast-'));
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ iceServers: [{ urls: ['stun:stun.example.net:3478'] }] }));
    expect(configFromCommandLine(['--config', file], {}).iceServers).toEqual([{ urls: ['stun:stun.example.net:3478'] }]);
  });

  it('rejects unknown settings, out-of-range values and bad flags with the setting named', () => {
    expect(() => resolveConfig({ http: { prot: 1 } })).toThrow(ConfigError);
    expect(() => resolveConfig({ http: { prot: 1 } })).toThrow(/\/http/);
    expect(() => resolveConfig({ rtc: { port: -1 } })).toThrow(/\/rtc\/port/);
    expect(() => resolveConfig({ iceServers: [{ urls: ['http://x'] }] })).toThrow(/\/iceServers\/0\/urls\/0/);
    expect(() => configFromCommandLine(['--nope'], {})).toThrow(ConfigError);
    expect(() => configFromCommandLine(['--config', '/does/not/exist.yaml'], {})).toThrow(/cannot read config file/);
  });
});

describe('media listen addresses', () => {
  it('binds each local IPv4 address exactly by default, and 0.0.0.0 behind an announced address', () => {
    const defaults = listenAddresses(resolveConfig({}).rtc);
    expect(defaults[0]).toEqual({ ip: '127.0.0.1' });
    expect(defaults.every((a) => a.ip !== '0.0.0.0' && a.announcedIp === undefined)).toBe(true);
    expect(listenAddresses(resolveConfig({ rtc: { announcedIp: '203.0.113.7' } }).rtc)).toEqual([{ ip: '0.0.0.0', announcedIp: '203.0.113.7' }]);
    expect(listenAddresses(resolveConfig({ rtc: { listenIps: [{ ip: '10.0.0.2', announcedIp: '203.0.113.7' }] } }).rtc)).toEqual([{ ip: '10.0.0.2', announcedIp: '203.0.113.7' }]);
  });
});
