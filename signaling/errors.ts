// The one error handler of the HTTP server: every refusal, from WHIP/WHEP, the control API or /live playback,
// answers with its status and a short plain text saying what was wrong (README "Errors"). Refusals carry a kind;
// this is where a kind becomes an HTTP status.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Refusal, type RefusalKind } from '../src/core/index.js';
import { NoCommonCodecError, SdpError, SourceConflictError, StreamOfflineError } from '../sfu/index.js';

const STATUS: Record<RefusalKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  denied: 403,
  'not-found': 404,
  conflict: 409,
  'precondition-failed': 412,
  'too-large': 413,
  'unsupported-media': 415,
  'rate-limited': 429,
  unavailable: 503,
};

export function httpStatusOf(refusal: Refusal): number {
  return STATUS[refusal.kind];
}

/** What was wrong, as a status and a reason; anything that is not a refusal is a 500 (and logged as such). */
export function describeError(error: unknown, maxBodyBytes: number): { status: number; message: string; retryAfter?: number } {
  if (error instanceof Refusal) {
    return { status: httpStatusOf(error), message: error.reason, ...(error.details.retryAfterSeconds === undefined ? {} : { retryAfter: error.details.retryAfterSeconds }) };
  }
  if (error instanceof SdpError || error instanceof NoCommonCodecError) return { status: 400, message: error.message };
  if (error instanceof StreamOfflineError) return { status: 404, message: error.message };
  if (error instanceof SourceConflictError) return { status: 409, message: error.message };
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown };
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `request body too large (limit ${maxBodyBytes} bytes)` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: `unsupported content type: ${fastifyError.message ?? ''}` };
  }
  if (fastifyError.validation !== undefined) return { status: 400, message: fastifyError.message ?? 'invalid request' };
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, message: fastifyError.message ?? 'bad request' };
  }
  return { status: 500, message: 'internal error' };
}

/** The server's error handler (set once, on the root instance). A 413 names the limit of the body it refused. */
export function errorHandler(maxSdpBytes: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const sdp = /^application\/(sdp|trickle-ice-sdpfrag)\b/i.test(request.headers['content-type'] ?? '');
    const { status, message, retryAfter } = describeError(error, sdp ? maxSdpBytes : request.routeOptions.bodyLimit);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ status, reason: message }, 'request refused');
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return reply.code(status).type('text/plain; charset=utf-8').send(message);
  };
}

/** A 404 in the same form as every other refusal (fastify's default is JSON). */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).type('text/plain; charset=utf-8').send(`no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
}
