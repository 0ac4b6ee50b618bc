// Recording events to the configured callback URL. Fire and forget: retried with backoff, never awaited by media
// code. Kept in one function so request signing (HMAC) can be added here alone.
import type { Logger } from 'pino';

export type RecordingEvent =
  | { event: 'record_started'; id: string; domain: string; app: string; stream: string; templateId: string; formats: string[]; time: string }
  | { event: 'record_file_finished'; id: string; domain: string; app: string; stream: string; format: string; path: string; durationSeconds: number; bytes: number; time: string }
  | { event: 'record_failed'; id: string; domain: string; app: string; stream: string; reason: string; time: string };

const ATTEMPTS = 4;
const TIMEOUT_MS = 5000;

export function sendCallback(url: string | undefined, body: RecordingEvent, logger: Logger): void {
  if (!url) return;
  void (async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        await response.body?.cancel();
        if (response.ok) return;
        logger.warn({ url, status: response.status, event: body.event, attempt }, 'recording callback refused');
      } catch (error) {
        logger.warn({ url, err: (error as Error).message, event: body.event, attempt }, 'recording callback failed');
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
    logger.error({ url, event: body.event }, 'recording callback given up');
  })();
}
