// Refused requests (401/403) counted by the reason class their refusal carries, for whipcast_auth_denials_total.
import { Refusal, type DenialReason } from '../core/index.js';

export class DenialCounter {
  private readonly counts = new Map<DenialReason, number>();

  record(reason: DenialReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** Counts a refusal that is an access denial (401/403); anything else is ignored. */
  recordError(error: unknown): void {
    if (error instanceof Refusal && error.isAccessDenial) this.record(error.details.denial ?? 'other');
  }

  entries(): [DenialReason, number][] {
    return [...this.counts.entries()];
  }
}
