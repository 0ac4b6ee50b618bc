// /api/domains: the configured domains, changed at run time (applied to the next requests, without a restart; not
// written back to the config file). Signing keys go in but never come out.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { hostName, Refusal } from '../../core/index.js';
import { DomainSchema } from '../../config/domains.js';
import type { DomainConfig, Domains } from '../../access/Domains.js';

export interface DomainsApiOptions {
  domains: Domains;
}

type Params = { Params: Static<typeof HostParams> };
const HostParams = Type.Object({ host: Type.String({ minLength: 1 }) });
/** A domain as PUT takes it: the config file's form; the host comes from the URL. */
const DomainBody = Type.Object({ ...DomainSchema.properties, host: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });
const tags = ['domains'];

/** A domain as the API shows it: signing keys are not shown. */
function redacted(domain: DomainConfig): DomainConfig {
  if (!domain.auth) return domain;
  const { primaryKey, secondaryKey, ...auth } = domain.auth;
  return { ...domain, auth: { ...auth, ...(primaryKey === undefined ? {} : { primaryKey: '***' }), ...(secondaryKey === undefined ? {} : { secondaryKey: '***' }) } };
}

export function domains(fastify: FastifyInstance, options: DomainsApiOptions, done: () => void): void {
  const configured = options.domains;
  fastify.get('/api/domains', { schema: { tags, summary: 'Configured domains (signing keys shown as ***)' } }, () => ({ domains: configured.configured().map(redacted) }));
  fastify.get<Params>('/api/domains/:host', { schema: { tags, summary: 'One domain', params: HostParams } }, (request) => {
    const found = configured.configured().find((d) => hostName(d.host) === hostName(request.params.host));
    if (!found) throw new Refusal('not-found', `no domain ${request.params.host}`);
    return redacted(found);
  });
  fastify.put<Params & { Body: Static<typeof DomainBody> }>(
    '/api/domains/:host',
    { schema: { tags, summary: 'Add or replace a domain (the whole entry, signing keys included)', params: HostParams, body: DomainBody } },
    (request) => {
      const domain: DomainConfig = { ...request.body, host: request.params.host };
      if (request.body.host !== undefined && hostName(request.body.host) !== hostName(request.params.host)) throw new Refusal('invalid', `host ${request.body.host} does not match the URL's ${request.params.host}`);
      const problems = configured.set(domain);
      if (problems.length > 0) throw new Refusal('invalid', `invalid domain: ${problems.join('; ')}`);
      return redacted(domain);
    },
  );
  fastify.delete<Params>('/api/domains/:host', { schema: { tags, summary: 'Remove a domain (its host falls back to the default domain)', params: HostParams } }, (request, reply) => {
    const problems = configured.remove(request.params.host);
    if (problems === undefined) throw new Refusal('not-found', `no domain ${request.params.host}`);
    if (problems.length > 0) throw new Refusal('conflict', `cannot remove ${request.params.host}: ${problems.join('; ')}`);
    return reply.code(204).send();
  });
  done();
}
