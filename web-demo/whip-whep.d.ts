// Types of whip-whep.js for the TypeScript tests and benches (the demo pages are plain JS modules).

export declare const SDP: 'application/sdp';
export declare const SDPFRAG: 'application/trickle-ice-sdpfrag';

export interface SessionDescription {
  type?: 'offer' | 'answer' | 'pranswer' | 'rollback';
  sdp?: string;
}

/**
 * What negotiate() uses of an RTCPeerConnection: the members werift's and the browsers' have in common, so either
 * can be passed.
 */
export interface PeerConnection {
  readonly localDescription: { readonly sdp: string } | null;
  readonly iceGatheringState: string;
  createOffer(): Promise<SessionDescription>;
  setLocalDescription(description: SessionDescription): Promise<unknown>;
  setRemoteDescription(description: { type: 'answer'; sdp: string }): Promise<unknown>;
  addEventListener(type: 'icegatheringstatechange', listener: () => void): void;
  removeEventListener(type: 'icegatheringstatechange', listener: () => void): void;
  close(): void | Promise<void>;
}

export declare class WhipWhepError extends Error {
  readonly method: string;
  readonly url: string;
  /** The HTTP status (for an answer that breaks the protocol, the status it came with). */
  readonly status: number;
  /** The server's plain-text reason (the message holds at most its first 500 characters). */
  readonly body: string;
  constructor(method: string, url: string, status: number, body: string);
}

/** performance.now() of each step of negotiate(). */
export interface NegotiationTiming {
  startedAt: number;
  /** Offer made (and, with `gather`, its candidates gathered): just before the POST. */
  offeredAt: number;
  /** The 201 and its answer received. */
  fetchedAt: number;
  /** The answer applied. */
  answeredAt: number;
}

export interface RequestOptions {
  /** Sent as Authorization: Bearer on every request of the session. */
  token?: string;
  /** Default: the global fetch (a test may pass one that records the requests). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export interface NegotiateOptions extends RequestOptions {
  /** Wait for ICE gathering to complete before the POST (all candidates in the offer). Default false. */
  gather?: boolean;
}

export declare class WhipWhepSession<Pc extends PeerConnection = PeerConnection> {
  /** The session resource's absolute URL. */
  readonly location: string;
  /** The server's SDP answer as received. */
  readonly answer: string;
  /** The session's ETag (If-Match of trickle PATCHes), null if the server sent none; an ICE restart renews it. */
  etag: string | null;
  link: string | null;
  /** The connection negotiate() negotiated (undefined for postOffer()). */
  pc: Pc | undefined;
  timing: NegotiationTiming | undefined;
  constructor(init: { location: string; answer: string; etag?: string | null; link?: string | null; token?: string; fetch?: typeof fetch; pc?: Pc });
  /** PATCH with candidates or end-of-candidates (If-Match: the ETag); throws a WhipWhepError unless 2xx. */
  trickle(fragment: string): Promise<void>;
  /** PATCH with new ICE credentials (If-Match: *); resolves to the server's fragment and keeps its new ETag. */
  restartIce(fragment: string): Promise<string>;
  /** DELETE; throws a WhipWhepError unless 2xx. */
  delete(options?: { signal?: AbortSignal }): Promise<void>;
  /** DELETE (its failure ignored: the server may be gone), then close the connection. */
  stop(options?: { signal?: AbortSignal }): Promise<void>;
  /** The PATCH itself, for requests trickle() and restartIce() do not cover; throws a WhipWhepError unless 2xx. */
  patch(fragment: string, ifMatch?: string): Promise<Response>;
}

/** A session negotiate() made: with its connection and the timing of its steps. */
export type NegotiatedSession<Pc extends PeerConnection = PeerConnection> = WhipWhepSession<Pc> & { pc: Pc; timing: NegotiationTiming };

/** POSTs an SDP offer (application/sdp); throws a WhipWhepError unless 201 with a Location. */
export declare function postOffer(endpoint: string, offer: string, options?: RequestOptions): Promise<WhipWhepSession>;
/** Resolves when `pc` has gathered all its candidates. */
export declare function iceGathered(pc: PeerConnection): Promise<void>;
/** Offer (made now unless `pc` has one), POST, answer applied. The connection is the caller's to close if this throws. */
export declare function negotiate<Pc extends PeerConnection>(pc: Pc, endpoint: string, options?: NegotiateOptions): Promise<NegotiatedSession<Pc>>;
/** An application/trickle-ice-sdpfrag body; candidates ("candidate:…", with or without "a=") need `mid`. */
export declare function sdpFragment(fragment: { ufrag: string; pwd: string; mid?: string; candidates?: string[]; endOfCandidates?: boolean }): string;

/** Browser only: publishes a MediaStream over WHIP (the connection is closed if that fails). */
export declare function publish(endpoint: string, stream: MediaStream, options?: { codec?: string; token?: string; simulcast?: boolean }): Promise<NegotiatedSession<RTCPeerConnection>>;
/** Browser only: a recvonly audio + video connection with its offer made. */
export declare function preparePlay(): Promise<RTCPeerConnection>;
/** Browser only: plays over WHEP into `video` (anything with a srcObject). */
export declare function play(endpoint: string, video: { srcObject: MediaProvider | null }, options?: { token?: string; prepared?: RTCPeerConnection | Promise<RTCPeerConnection> }): Promise<NegotiatedSession<RTCPeerConnection>>;
