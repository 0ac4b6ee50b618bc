// Every POST whipcast sends out (event callbacks, the admission hook, the on-demand recording request) goes through
// here, so every one is signed the same way:
//   X-Whipcast-Timestamp: <unix seconds>
//   X-Whipcast-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
// (the signature header only when a secret is configured).
import { createHmac } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-whipcast-timestamp';
export const SIGNATURE_HEADER = 'x-whipcast-signature';

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signPayload(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The headers of a signed JSON POST (timestamp always; signature with a secret). */
export function signedHeaders(body: string, secret: string | undefined, now: number = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    [TIMESTAMP_HEADER]: String(timestamp),
    ...(secret === undefined ? {} : { [SIGNATURE_HEADER]: signPayload(secret, timestamp, body) }),
  };
}

export class SignedPoster {
  constructor(private readonly secret: string | undefined) {}

  /** One signed attempt (signed at the time of sending); the caller reads or cancels the response body. */
  post(url: string, body: string, timeoutMs: number): Promise<Response> {
    return fetch(url, { method: 'POST', headers: signedHeaders(body, this.secret), body, signal: AbortSignal.timeout(timeoutMs) });
  }
}
