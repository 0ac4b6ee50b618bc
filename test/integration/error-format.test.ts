// Every refusal has one form, whichever part of the server refuses: the status and a short plain-text reason,
// as WHIP/WHEP refusals have always been (no JSON error objects from /api or /live). Also the admin guard: the
// same rule and the same count (whipcast_auth_denials_total{reason="admin_token"}) for every /api plugin,
// the WebSocket feed included. A refusal for a non-loopback client without an admin token cannot be produced
// from 127.0.0.1; the token-configured refusals (401, 403) are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhipcastServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';

const ADMIN = 'admin-secret';
let server: WhipcastServer;

beforeAll(async () => {
  server = await startTestServer({ auth: { adminToken: ADMIN } });
});
afterAll(async () => {
  await server?.close();
});

const admin = { authorization: `Bearer ${ADMIN}` };

interface Answer {
  status: number;
  type: string | null;
  body: string;
}

async function request(path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${server.httpUrl}${path}`, init);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

function expectPlainRefusal(answer: Answer, status: number): void {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.type).toBe('text/plain; charset=utf-8');
  expect(answer.body.trim()).not.toBe('');
  expect(() => JSON.parse(answer.body) as unknown, answer.body).toThrow();
}

async function adminDenials(): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('whipcast_auth_denials_total{reason="admin_token"}'));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('refusals are a status and a plain-text reason', () => {
  it.each([
    ['an /api stream that is not live', '/api/streams/live/nope', { headers: admin }, 404],
    ['an /api domain with an invalid body', '/api/domains/x', { method: 'PUT', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ latencyMode: 'instant' }) }, 400],
    ['an /api relay rule that does not exist', '/api/relays/nope', { method: 'DELETE', headers: admin }, 404],
    ['an /api recording that does not exist', '/api/recordings/nope', { headers: admin }, 404],
    ['a /live playlist of a stream that is not live', '/live/live/nope.m3u8', {}, 404],
    ['a /live file with an impossible stream name', '/live/live/bad%2Fname.flv', {}, 404],
    ['an unknown route', '/no/such/route', {}, 404],
    ['a WHEP offer with the wrong content type', '/whep/live/nope', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 415],
  ] satisfies [string, string, RequestInit, number][])('%s', async (_what, path, init, status) => {
    expectPlainRefusal(await request(path, init), status);
  });
});

describe('the admin guard', () => {
  it('refuses a missing token (401) and a wrong one (403) on every /api plugin the same way, and counts each', async () => {
    const before = await adminDenials();
    const paths = ['/api/streams', '/api/sessions', '/api/domains', '/api/relays', '/api/workers', '/api/forbidden', '/api/recordings', '/api/record-templates', '/api/openapi.json', '/api/events'];
    for (const path of paths) {
      expectPlainRefusal(await request(path), 401);
      expectPlainRefusal(await request(path, { headers: { authorization: 'Bearer wrong' } }), 403);
    }
    expect(await adminDenials()).toBe(before + 2 * paths.length);
    // The WebSocket feed also takes the token as ?token= (browsers cannot set its headers); the others do not.
    expectPlainRefusal(await request('/api/events?token=wrong'), 403);
    expectPlainRefusal(await request(`/api/streams?token=${ADMIN}`), 401);
    expect((await request('/api/streams', { headers: admin })).status).toBe(200);
    expect((await request('/healthz')).status).toBe(200); // public
  });
});
