// What signaling/ needs from the rest of the server, and nothing more: whether a publish or a play is
// admitted and which Room it goes to. src/ implements it (auth, stream registry, lifecycle); refusals are
// HttpErrors thrown from these calls.
import type { Room } from '../sfu/index.js';

export interface MediaRequest {
  app: string;
  stream: string;
  /** The value of `Authorization: Bearer <token>`, if any. */
  bearerToken: string | undefined;
  query: Record<string, string>;
  ip: string;
  host: string;
  /** The Referer header (HTTP playback; RTMP and encoders send none). */
  referer?: string | undefined;
  /** The URL path of the endpoint, e.g. /whip/live/cam1 (signed-URL checks hash the /{app}/{stream} part). */
  path: string;
}

export interface PublishAdmission {
  room: Room;
  /** The publisher exists (its answer is about to be sent): the stream is live until the publisher closes. */
  commit(publisher: { close(reason: string): void }): void;
  /** Creating the publisher failed: release the name and the room. */
  abort(): void;
}

export interface StreamGate {
  admitPublish(request: MediaRequest): Promise<PublishAdmission>;
  /** The room of a live stream a viewer may watch; throws 404 when the stream is not live. */
  admitPlay(request: MediaRequest): Promise<Room>;
}
