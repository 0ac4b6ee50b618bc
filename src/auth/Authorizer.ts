// Who may publish and play. This rule is a static bearer token per action; signed URLs, referer/IP
// lists and admission hooks slot in behind the same interface.
import { timingSafeEqual } from 'node:crypto';
import { HttpError, type MediaRequest } from '../../signaling/index.js';

export type Action = 'publish' | 'play';

export interface Authorizer {
  /** Returns when the request may proceed; throws an HttpError (401/403) saying why not. */
  authorize(action: Action, request: MediaRequest): void;
}

export class StaticTokenAuthorizer implements Authorizer {
  constructor(private readonly tokens: { publishToken?: string | undefined; playToken?: string | undefined }) {}

  authorize(action: Action, request: MediaRequest): void {
    const expected = action === 'publish' ? this.tokens.publishToken : this.tokens.playToken;
    if (expected === undefined) return;
    if (request.bearerToken === undefined) throw new HttpError(401, `${action} requires Authorization: Bearer <token>`);
    if (!sameSecret(request.bearerToken, expected)) throw new HttpError(403, `invalid ${action} token`);
  }
}

/** Constant-time comparison, so response timing says nothing about how much of a secret matched. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
