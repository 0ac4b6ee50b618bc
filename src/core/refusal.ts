// A typed refusal: what kind of "no" it is and a short reason a person can read. Everything below the protocol
// servers throws these; each protocol maps the kind to its own terms (an HTTP status, an RTMP NetStream code).

export type RefusalKind =
  | 'invalid' // the request is malformed or names something impossible
  | 'unauthenticated' // credentials are missing
  | 'denied' // credentials or access rules say no
  | 'not-found' // no such stream, session or resource
  | 'conflict' // the name or resource is taken, or others depend on it
  | 'precondition-failed' // a conditional request (If-Match) no longer applies
  | 'too-large' // the body is over its limit
  | 'unsupported-media' // the body has the wrong content type
  | 'rate-limited' // too many requests from one client
  | 'unavailable'; // the server is at a limit or a dependency is down: try later

/** Why an access check said no, for whipcast_auth_denials_total. */
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
  | 'hook'
  | 'other';

export interface RefusalDetails {
  /** Seconds a client should wait before trying again (rate-limited, unavailable). */
  retryAfterSeconds?: number;
  /** For unauthenticated/denied: which check said no. */
  denial?: DenialReason;
}

export class Refusal extends Error {
  override name = 'Refusal';

  constructor(
    readonly kind: RefusalKind,
    readonly reason: string,
    readonly details: RefusalDetails = {},
  ) {
    super(reason);
  }

  /** An access refusal (401 when credentials are missing, else 403) counted under `denial`. */
  static denied(denial: DenialReason, reason: string, kind: 'denied' | 'unauthenticated' = 'denied'): Refusal {
    return new Refusal(kind, reason, { denial });
  }

  get isAccessDenial(): boolean {
    return this.kind === 'denied' || this.kind === 'unauthenticated';
  }
}
