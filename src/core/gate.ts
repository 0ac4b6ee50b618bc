// What the protocol servers need from the rest of the server: whether a publish or a play is admitted, and which
// room it goes to. streams/ implements it; refusals are thrown as Refusals. Generic in the room so that this
// vocabulary knows nothing of the SFU.
import type { MediaRequest } from './request.js';

/** A stream's publishers: its primary, and a backup that takes over when the primary fails (`?backup=1`). */
export type PublisherRole = 'primary' | 'backup';

export interface PublishAdmission<TRoom> {
  room: TRoom;
  /** The role the publisher takes in the room. */
  role: PublisherRole;
  /** The publisher exists (its answer is about to be sent): the stream is live until the publisher closes. */
  commit(publisher: { readonly id: string; close(reason: string): void }): void;
  /** Creating the publisher failed: release the name and the room. */
  abort(): void;
}

export interface PlayAdmission<TRoom> {
  room: TRoom;
  /** The viewer exists: it holds its place (limits) until it closes. */
  commit(viewer: { once(event: 'close', listener: () => void): unknown }): void;
  /** Creating the viewer failed: release its place. */
  abort(): void;
}

export interface StreamGate<TRoom> {
  admitPublish(request: MediaRequest): Promise<PublishAdmission<TRoom>>;
  /** A viewer's place on a live stream; refused with not-found when the stream is not live. */
  admitPlay(request: MediaRequest): Promise<PlayAdmission<TRoom>>;
}
