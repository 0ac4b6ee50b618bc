// Errors sfu/ raises for input a client controls. signaling/ maps them to 4xx; anything else is a 5xx.

/** The SDP could not be parsed or is missing something WebRTC requires. */
export class SdpError extends Error {
  override name = 'SdpError';
}

/** The SDP was valid but offers nothing we can send or receive. */
export class NoCommonCodecError extends Error {
  override name = 'NoCommonCodecError';
  constructor(
    message: string,
    readonly offered: string[],
  ) {
    super(message);
  }
}

/** The stream has no live publisher (it ended, or ended while a viewer was joining). */
export class StreamOfflineError extends Error {
  override name = 'StreamOfflineError';
}

/** The stream already has a publisher in that role, or cannot take another (simulcast, other codecs). */
export class SourceConflictError extends Error {
  override name = 'SourceConflictError';
}
