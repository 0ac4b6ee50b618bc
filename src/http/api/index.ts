// The control API, one plugin per resource, and /healthz. Every /api route is registered inside one scope whose
// onRequest hook is the admin guard, so a route added to any of these plugins is behind it without saying so.
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { adminGuard, type AdminGuardOptions } from '../adminGuard.js';
import { domains, type DomainsApiOptions } from './domains.js';
import { health, type HealthOptions } from './health.js';
import { openapi } from './openapi.js';
import { recordings, type RecordingsApiOptions } from './recordings.js';
import { relays, type RelaysApiOptions } from './relays.js';
import { sessions, type SessionsApiOptions } from './sessions.js';
import { streams, type StreamsApiOptions } from './streams.js';
import { transcoding, type TranscodingApiOptions } from './transcoding.js';
import { urls, type UrlsApiOptions } from './urls.js';
import { workers, type WorkersApiOptions } from './workers.js';

export type ControlApiOptions = AdminGuardOptions &
  HealthOptions &
  StreamsApiOptions &
  SessionsApiOptions &
  UrlsApiOptions &
  DomainsApiOptions &
  RelaysApiOptions &
  WorkersApiOptions &
  RecordingsApiOptions &
  TranscodingApiOptions;

const resources: FastifyPluginCallback<ControlApiOptions>[] = [streams, sessions, urls, domains, relays, workers, recordings, transcoding, openapi];

export async function controlApi(fastify: FastifyInstance, options: ControlApiOptions): Promise<void> {
  await fastify.register(health, options);
  await fastify.register(async (admin) => {
    admin.addHook('onRequest', adminGuard(options));
    for (const resource of resources) await admin.register(resource, options);
  });
}
