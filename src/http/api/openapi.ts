// GET /api/openapi.json: the OpenAPI document @fastify/swagger builds from the route schemas. It is an /api route
// like the others (behind the admin rule) but not listed in itself.
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger'; // fastify.swagger(), and the route schema fields summary, tags, hide

export function openapi(fastify: FastifyInstance, _options: unknown, done: () => void): void {
  fastify.get('/api/openapi.json', { schema: { hide: true } }, () => fastify.swagger());
  done();
}
