// The admin rule of every /api route: with an admin token configured, `Authorization: Bearer <token>`;
// without one, loopback clients only, so the embedded defaults are safe on a public host. The client is the
// socket's peer, not request.ip: with trustProxy on, X-Forwarded-For would let anyone claim to be 127.0.0.1.
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { Refusal } from '../core/index.js';
import { sameSecret } from '../access/Authorizer.js';
import type { DenialCounter } from '../access/denials.js';

export interface AdminGuardOptions {
  adminToken: string | undefined;
  /** Counts each refused request as an 'admin_token' denial. */
  denials: DenialCounter;
}

/**
 * The onRequest hook refusing what the admin rule refuses. `tokenInQuery`: the token may also come as ?token= (a
 * browser cannot set headers on a WebSocket).
 */
export function adminGuard(options: AdminGuardOptions, { tokenInQuery = false } = {}): onRequestHookHandler {
  return (request, _reply, done) => {
    const refusal = adminRefusal(request, options.adminToken, tokenInQuery);
    if (refusal) options.denials.record('admin_token');
    done(refusal);
  };
}

function adminRefusal(request: FastifyRequest, token: string | undefined, tokenInQuery: boolean): Refusal | undefined {
  if (token === undefined) {
    return isLoopback(request.socket.remoteAddress ?? '') ? undefined : refused('denied', 'the control API answers loopback clients only until an admin token is configured');
  }
  const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? (tokenInQuery ? queryToken(request) : undefined);
  if (given === undefined) return refused('unauthenticated', 'the control API requires Authorization: Bearer <admin token>');
  return sameSecret(given, token) ? undefined : refused('denied', 'invalid admin token');
}

function queryToken(request: FastifyRequest): string | undefined {
  const token = (request.query as Record<string, unknown> | undefined)?.token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

function refused(kind: 'denied' | 'unauthenticated', reason: string): Refusal {
  return new Refusal(kind, reason, { denial: 'admin_token' });
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
