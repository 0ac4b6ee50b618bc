// The HTTP side of src/metrics: GET /metrics in Prometheus text format, and the hook counting every request by
// route pattern (the pattern, not the URL: stream names in URLs would make a time series per stream).
import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import type { Metrics } from '../metrics/index.js';

export interface MetricsRouteOptions {
  metrics: Metrics;
}

/** The onResponse hook counting requests; add it on the root instance so that every route (and 404s) is counted. */
export function countRequests(metrics: Metrics): onResponseHookHandler {
  return (request, reply, done) => {
    metrics.requestServed(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode);
    done();
  };
}

export function metricsRoute(fastify: FastifyInstance, { metrics }: MetricsRouteOptions, done: () => void): void {
  fastify.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: true } }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.scrape()));
  done();
}
