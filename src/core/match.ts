// Rules that apply to streams by domain, app and stream name, each exact or "*": recording templates, transcoding
// templates and ladders. One matcher, so that every rule follows the same priority.

/** What a rule names; a missing field is "*". */
export interface StreamRule {
  domain?: string;
  app?: string;
  stream?: string;
}

export interface StreamIdentity {
  /** The request's host (a port, if any, is ignored). */
  host: string;
  app: string;
  stream: string;
}

/** How specifically a rule names a stream (higher wins), or undefined when it does not match it. */
function matchScore(rule: StreamRule, target: StreamIdentity): number | undefined {
  const host = target.host.replace(/:\d+$/, '').toLowerCase();
  const { domain = '*', app = '*', stream = '*' } = rule;
  const domainExact = domain.toLowerCase() === host;
  if (!domainExact && domain !== '*') return undefined;
  if (app !== '*' && app !== target.app) return undefined;
  if (stream !== '*' && stream !== target.stream) return undefined;
  return (app !== '*' ? 4 : 0) + (stream !== '*' ? 2 : 0) + (domainExact ? 1 : 0);
}

export function ruleMatches(rule: StreamRule, target: StreamIdentity): boolean {
  return matchScore(rule, target) !== undefined;
}

/** The rule that applies to a stream: exact app+stream > app+* > *+* ; at equal names an exact domain beats *. */
export function bestMatch<T extends StreamRule>(rules: readonly T[], target: StreamIdentity): T | undefined {
  let best: T | undefined;
  let bestScore = -1;
  for (const rule of rules) {
    const score = matchScore(rule, target);
    if (score !== undefined && score > bestScore) {
      best = rule;
      bestScore = score;
    }
  }
  return best;
}
