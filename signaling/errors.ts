// A refusal with its HTTP status and a short text saying what was wrong (CONTRACT.md "Errors").
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    /** Extra response headers, e.g. Retry-After on a 429/503. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}
