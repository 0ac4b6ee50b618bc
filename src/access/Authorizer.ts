// Who may publish and play: static bearer tokens per action, and per-stream publish keys. Signed URLs, referer/IP
// lists (AccessAuthorizer) and the admission hook are layered around it.
import { timingSafeEqual } from 'node:crypto';
import { Refusal, streamPath, type MediaRequest } from '../core/index.js';

export type Action = 'publish' | 'play';

export interface Authorizer {
  /** Returns when the request may proceed; throws a Refusal (unauthenticated/denied) saying why not. */
  authorize(action: Action, request: MediaRequest): void;
}

export interface StaticTokens {
  publishToken?: string | undefined;
  playToken?: string | undefined;
  /** Per-stream publish keys by "app/stream" (OBS's Bearer Token field, or `?token=` in an RTMP stream key). */
  streamKeys?: Record<string, string>;
}

export class StaticTokenAuthorizer implements Authorizer {
  constructor(private readonly tokens: StaticTokens) {}

  authorize(action: Action, request: MediaRequest): void {
    const streamKey = this.tokens.streamKeys?.[streamPath(request)];
    const expected = action === 'publish' ? (streamKey ?? this.tokens.publishToken) : this.tokens.playToken;
    if (expected === undefined) return;
    if (request.bearerToken === undefined) throw Refusal.denied('token', `${action} requires Authorization: Bearer <token>`, 'unauthenticated');
    if (!sameSecret(request.bearerToken, expected)) throw Refusal.denied('token', `invalid ${action} token`);
  }
}

/** Constant-time comparison, so response timing says nothing about how much of a secret matched. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
