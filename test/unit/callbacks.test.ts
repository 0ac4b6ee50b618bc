// Callback signatures (HMAC-SHA256 over "<timestamp>.<body>"), the sender's retries and queue bound, and limits.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackSender } from '../../src/notify/CallbackSender.js';
import { signedHeaders, signPayload } from '../../src/notify/SignedPoster.js';
import { Limits } from '../../src/access/Limits.js';
import { Refusal } from '../../src/core/index.js';

const logger = pino({ level: 'silent' });

describe('callback signature', () => {
  it('is sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>', () => {
    // Reference value from: printf '%s' '1700000000.{"event":"publish"}' | openssl dgst -sha256 -hmac shh
    expect(signPayload('shh', 1700000000, '{"event":"publish"}')).toBe('sha256=433492bc6edefc39bb0f12bb441993000698a8ca0dd9d73d73d7bcaefc8dcb31');
  });

  it('signs the body with the timestamp header it sends', () => {
    const body = JSON.stringify({ event: 'play', app: 'live', stream: 'cam1' });
    const headers = signedHeaders(body, 'k', 1_700_000_123_456);
    expect(headers['x-whipcast-timestamp']).toBe('1700000123');
    const expected = createHmac('sha256', 'k').update(`1700000123.${body}`).digest('hex');
    expect(headers['x-whipcast-signature']).toBe(`sha256=${expected}`);
    expect(headers['content-type']).toBe('application/json');
  });

  it('has no signature header without a secret', () => {
    expect(signedHeaders('{}', undefined)).not.toHaveProperty('x-whipcast-signature');
  });
});

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(statuses: number[]): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.statusCode = statuses[received.length - 1] ?? 200;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

describe('CallbackSender', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('retries a refused event with backoff and stops at the first success', async () => {
    const r = await receiver([500, 503, 200]);
    servers.push(r.server);
    const sender = new CallbackSender({ url: r.url, secret: 's', retryDelaysMs: [20, 40, 80] }, logger);
    sender.send({ event: 'publish', app: 'live', stream: 'a' });
    await expect.poll(() => r.received.length, { timeout: 5000 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.received.length).toBe(3);
    for (const { headers, body } of r.received) {
      expect(headers['x-whipcast-signature']).toBe(signPayload('s', String(headers['x-whipcast-timestamp']), body));
      expect(JSON.parse(body)).toMatchObject({ event: 'publish', app: 'live', stream: 'a' });
    }
    expect(sender.dropped).toBe(0);
    sender.close();
  });

  it('gives up after its retries', async () => {
    const r = await receiver([500, 500, 500, 500]);
    servers.push(r.server);
    const sender = new CallbackSender({ url: r.url, retryDelaysMs: [10, 10] }, logger);
    sender.send({ event: 'x' });
    await expect.poll(() => sender.dropped, { timeout: 5000 }).toBe(1);
    expect(r.received.length).toBe(3);
  });

  it('drops events beyond its queue size instead of growing', () => {
    const sender = new CallbackSender({ url: 'http://127.0.0.1:9/unreachable', queueSize: 2, retryDelaysMs: [] }, logger);
    for (let i = 0; i < 5; i++) sender.send({ event: 'x' });
    expect(sender.dropped).toBe(3);
    sender.close();
  });
});

describe('Limits', () => {
  const refusal = (fn: () => void): Refusal => {
    try {
      fn();
    } catch (error) {
      return error as Refusal;
    }
    throw new Error('not refused');
  };

  it('refuses publishers and viewers over their limits (unavailable, a 503)', () => {
    const limits = new Limits({ maxPublishers: 2, maxViewersPerStream: 3, maxViewersTotal: 5, sessionsPerIpPerMinute: 0 });
    expect(() => limits.checkPublisher(1)).not.toThrow();
    expect(refusal(() => limits.checkPublisher(2))).toMatchObject({ kind: 'unavailable', message: 'server is at its publisher limit (2)' });
    expect(refusal(() => limits.checkViewer('live/x', 3, 3))).toMatchObject({ kind: 'unavailable', message: 'stream live/x is at its viewer limit (3)' });
    expect(refusal(() => limits.checkViewer('live/x', 1, 5))).toMatchObject({ kind: 'unavailable', message: 'server is at its viewer limit (5)' });
  });

  it('refuses more than N sessions per minute from one address (rate-limited: a 429 with Retry-After)', () => {
    let now = 1_000_000;
    const limits = new Limits({ maxPublishers: 0, maxViewersPerStream: 0, maxViewersTotal: 0, sessionsPerIpPerMinute: 2 }, () => now);
    limits.takeSession('10.0.0.1');
    now += 10_000;
    limits.takeSession('10.0.0.1');
    limits.takeSession('10.0.0.2');
    const error = refusal(() => limits.takeSession('10.0.0.1'));
    expect(error).toMatchObject({ kind: 'rate-limited', message: 'too many sessions from 10.0.0.1: limit 2 per minute' });
    expect(error.details.retryAfterSeconds).toBe(50);
    now += 50_001;
    expect(() => limits.takeSession('10.0.0.1')).not.toThrow();
  });

  it('is unlimited at 0', () => {
    const limits = new Limits({ maxPublishers: 0, maxViewersPerStream: 0, maxViewersTotal: 0, sessionsPerIpPerMinute: 0 });
    for (let i = 0; i < 100; i++) limits.takeSession('1.2.3.4');
    expect(() => limits.checkPublisher(1e6)).not.toThrow();
    expect(() => limits.checkViewer('a/b', 1e6, 1e6)).not.toThrow();
  });
});
