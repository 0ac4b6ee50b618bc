// Refused requests (401/403) counted by a short reason class, for whipcast_auth_denials_total. The classes come
// from the refusal's own message, so every check that throws an HttpError is counted without knowing about this.
import { HttpError, type MediaRequest } from '../../signaling/index.js';
import type { Action, Authorizer } from './Authorizer.js';

export type DenialReason =
  | 'missing_key'
  | 'malformed_key'
  | 'bad_hash'
  | 'expired'
  | 'ip'
  | 'referer'
  | 'token'
  | 'domain_type'
  | 'forbidden'
  | 'admin_token'
  | 'other';

/** The reason class of a refusal message (AccessAuthorizer, StaticTokenAuthorizer, the registry, the API). */
export function denialReason(message: string): DenialReason {
  if (/auth_key missing/.test(message)) return 'missing_key';
  if (/auth_key malformed/.test(message)) return 'malformed_key';
  if (/bad hash/.test(message)) return 'bad_hash';
  if (/expired/.test(message)) return 'expired';
  if (/client address/.test(message)) return 'ip';
  if (/referer/i.test(message)) return 'referer';
  if (/is forbidden until/.test(message)) return 'forbidden';
  if (/admin token|control API/.test(message)) return 'admin_token';
  if (/token/i.test(message)) return 'token';
  if (/streaming domain|ingest domain|half-second/.test(message)) return 'domain_type';
  return 'other';
}

export class DenialCounter {
  private readonly counts = new Map<DenialReason, number>();

  record(reason: DenialReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** Counts an HttpError that is a 401/403; anything else is ignored. */
  recordError(error: unknown): void {
    if (error instanceof HttpError && (error.statusCode === 401 || error.statusCode === 403)) this.record(denialReason(error.message));
  }

  entries(): [DenialReason, number][] {
    return [...this.counts.entries()];
  }
}

/** An Authorizer that counts the refusals of the one it wraps. */
export function countingAuthorizer(inner: Authorizer, denials: DenialCounter): Authorizer {
  return {
    authorize(action: Action, request: MediaRequest): void {
      try {
        inner.authorize(action, request);
      } catch (error) {
        denials.recordError(error);
        throw error;
      }
    },
  };
}
