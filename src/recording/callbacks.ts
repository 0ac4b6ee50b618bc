// Recording events to the configured callback URL. Fire and forget: signed, queued and retried with backoff by the
// server's CallbackSender (src/notify), never awaited by media code.
import type { CallbackSender } from '../notify/CallbackSender.js';

export type RecordingEvent =
  | { event: 'record_started'; id: string; domain: string; app: string; stream: string; templateId: string; formats: string[]; time: string }
  | { event: 'record_file_finished'; id: string; domain: string; app: string; stream: string; format: string; path: string; durationSeconds: number; bytes: number; time: string }
  | { event: 'record_failed'; id: string; domain: string; app: string; stream: string; reason: string; time: string };

/** Sends a recording event: to the recording's own callback URL if set, else to callbacks.url; signed and retried by the sender. */
export function sendCallback(sender: CallbackSender, url: string | undefined, body: RecordingEvent): void {
  sender.send(body, url ?? sender.url);
}
