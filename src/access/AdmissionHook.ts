// The admission hook (like OvenMediaEngine's admission webhooks or SRS on_publish): before a publish or a play is
// admitted, POST {action, app, stream, host, ip, protocol, query} (signed like the callbacks) to the configured URL
// and obey its {allow, reason?}. A timeout, an error or an invalid answer falls back to the configured default.
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import type { Logger } from 'pino';
import { Refusal, type MediaRequest } from '../core/index.js';
import type { SignedPoster } from '../notify/SignedPoster.js';

export type AdmissionAction = 'publish' | 'play';

export interface AdmissionConfig {
  url?: string | undefined;
  timeoutMs: number;
  default: 'allow' | 'deny';
}

export const AdmissionAnswerSchema = Type.Object({ allow: Type.Boolean(), reason: Type.Optional(Type.String()) });

/** Allowed HLS plays are remembered this long per client, so playlist refreshes do not call the hook each time. */
const HLS_ALLOW_CACHE_MS = 30_000;

export class AdmissionHook {
  private readonly allowed = new Map<string, number>();

  constructor(
    private readonly config: AdmissionConfig,
    /** Signs with admission.secret, or callbacks.secret. */
    private readonly poster: SignedPoster,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.config.url !== undefined;
  }

  /** Returns when the hook admits the request; throws 403 with the hook's reason when it denies it. */
  async check(action: AdmissionAction, request: MediaRequest): Promise<void> {
    const url = this.config.url;
    if (url === undefined) return;
    const protocol = request.protocol;
    const body = { action, app: request.app, stream: request.stream, host: request.host, ip: request.ip, protocol, query: request.query };
    const cacheKey = protocol === 'hls' ? JSON.stringify(body) : undefined;
    if (cacheKey !== undefined) {
      const until = this.allowed.get(cacheKey);
      if (until !== undefined && until > Date.now()) return;
      this.allowed.delete(cacheKey);
    }
    const verdict = await this.ask(url, body);
    if (!verdict.allow) throw Refusal.denied('hook', verdict.reason);
    if (cacheKey !== undefined) {
      if (this.allowed.size > 10_000) this.allowed.clear();
      this.allowed.set(cacheKey, Date.now() + HLS_ALLOW_CACHE_MS);
    }
  }

  private async ask(url: string, payload: Record<string, unknown>): Promise<{ allow: boolean; reason: string }> {
    const key = `${String(payload.app)}/${String(payload.stream)}`;
    const fallback = (why: string): { allow: boolean; reason: string } => {
      const allow = this.config.default === 'allow';
      this.logger.warn({ url, action: payload.action, stream: key, problem: why, default: this.config.default }, 'admission hook unusable: default applied');
      return { allow, reason: `${String(payload.action)} of ${key} refused: admission hook ${why}` };
    };
    const body = JSON.stringify(payload);
    let answer: unknown;
    try {
      const response = await this.poster.post(url, body, this.config.timeoutMs);
      if (!response.ok) {
        await response.body?.cancel();
        return fallback(`answered ${response.status}`);
      }
      answer = await response.json();
    } catch (error) {
      const name = (error as Error).name;
      return fallback(name === 'TimeoutError' || name === 'AbortError' ? `timed out after ${this.config.timeoutMs} ms` : `failed (${(error as Error).message})`);
    }
    if (!Value.Check(AdmissionAnswerSchema, answer)) return fallback('answered an invalid body (expected {allow: boolean, reason?: string})');
    const reason = answer.reason?.trim() ? answer.reason.trim().slice(0, 300) : `${String(payload.action)} of ${key} denied by the admission hook`;
    if (!answer.allow) this.logger.info({ action: payload.action, stream: key, ip: payload.ip, reason }, 'admission hook denied');
    return { allow: answer.allow, reason };
  }
}
