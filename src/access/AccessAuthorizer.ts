// Access control per domain, in order: the domain's type (no publishing to a streaming-only domain, no playback
// from an ingest-only one) → IP deny/allow lists → Referer deny/allow lists (playback only: encoders send none)
// → signed URL (method A, when the domain has a signing key) → the static bearer tokens. Every refusal is a 403
// with the reason (401 only for a missing static token). Checks run at admission only: a session admitted with a
// valid URL is not cut when that URL expires later.
import { Refusal, type MediaRequest } from '../core/index.js';
import type { DomainSettings, Domains } from './Domains.js';
import { type Action, type Authorizer } from './Authorizer.js';
import { IpList, normalizeIp, refererHost, refererMatches } from './lists.js';
import { looksLikeAuthKey, verifyAuthKey } from './signedUrl.js';

interface DomainLists {
  ipAllow: IpList | undefined;
  ipDeny: IpList | undefined;
}

export class AccessAuthorizer implements Authorizer {
  private readonly lists = new Map<DomainSettings, DomainLists>();

  constructor(
    private readonly domains: Domains,
    /** The checks after these (the static tokens). */
    private readonly next: Authorizer,
    private readonly now: () => number = Date.now,
  ) {}

  authorize(action: Action, request: MediaRequest): void {
    const domain = this.domains.resolve(request.host);
    const name = domain.host ?? 'the default domain';
    if (action === 'publish' && domain.type === 'streaming') throw Refusal.denied('domain_type', `${name} is a streaming domain: publish to its ingest domain ${domain.ingestDomain ?? ''}`.trim());
    if (action === 'play' && domain.type === 'ingest') throw Refusal.denied('domain_type', `${name} is an ingest domain: play from one of its streaming domains`);
    this.checkIp(domain, request.ip);
    if (action === 'play') checkReferer(domain, request.referer);
    let request_ = request;
    if (domain.auth.primaryKey !== undefined || domain.auth.secondaryKey !== undefined) {
      // OBS's "Bearer Token" field may carry the auth_key value itself.
      const fromBearer = request.query.auth_key === undefined && request.bearerToken !== undefined && looksLikeAuthKey(request.bearerToken);
      const authKey = fromBearer ? request.bearerToken : request.query.auth_key;
      const check = verifyAuthKey(authKey, signedPath(request), { ...domain.auth, now: this.now() });
      if (!check.ok) throw Refusal.denied(check.denial, check.reason);
      if (fromBearer) request_ = { ...request, bearerToken: undefined };
    }
    this.next.authorize(action, request_);
  }

  private checkIp(domain: DomainSettings, ip: string): void {
    let lists = this.lists.get(domain);
    if (!lists) {
      lists = { ipAllow: domain.ip.allow?.length ? new IpList(domain.ip.allow) : undefined, ipDeny: domain.ip.deny?.length ? new IpList(domain.ip.deny) : undefined };
      this.lists.set(domain, lists);
    }
    if (!lists.ipAllow && !lists.ipDeny) return;
    const address = normalizeIp(ip);
    if (lists.ipDeny?.has(address)) throw Refusal.denied('ip', `client address ${address} is denied`);
    if (lists.ipAllow && !lists.ipAllow.has(address)) throw Refusal.denied('ip', `client address ${address} is not allowed`);
  }
}

function checkReferer(domain: DomainSettings, referer: string | undefined): void {
  const { allow, deny, allowEmpty } = domain.referer;
  if (referer === undefined || referer.trim() === '') {
    if (!allowEmpty) throw Refusal.denied('referer', 'an empty Referer is not allowed');
    return;
  }
  const shown = refererHost(referer) ?? referer.slice(0, 100);
  if (deny?.some((p) => refererMatches(referer, p))) throw Refusal.denied('referer', `referer ${shown} is denied`);
  if (allow?.length && !allow.some((p) => refererMatches(referer, p))) throw Refusal.denied('referer', `referer ${shown} is not allowed`);
}

/** What the auth_key signs: /{app}/{stream} for WHIP, WHEP and RTMP; the file path (/{app}/{stream}.m3u8|.flv) for HLS and FLV. */
export function signedPath(request: MediaRequest): string {
  const file = /\.(m3u8|flv)$/.exec(request.path)?.[0] ?? '';
  return `/${request.app}/${request.stream}${file}`;
}
