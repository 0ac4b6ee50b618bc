// The project's one WHIP/WHEP client (web-demo/whip-whep.js, the demo pages' own), typed, for the werift peers of
// the tests and benches.
import type * as Declared from '../../web-demo/whip-whep.js';
import { importWebDemo } from './web-demo.js';

const client = await importWebDemo<typeof Declared>('whip-whep.js');

export const { SDP, SDPFRAG, WhipWhepError, WhipWhepSession, postOffer, negotiate, iceGathered, sdpFragment } = client;
export type { NegotiatedSession, NegotiateOptions, NegotiationTiming, PeerConnection, RequestOptions } from '../../web-demo/whip-whep.js';
// The classes' instance types under their own names (a value and a type may share one).
export type WhipWhepError = Declared.WhipWhepError;
export type WhipWhepSession<Pc extends Declared.PeerConnection = Declared.PeerConnection> = Declared.WhipWhepSession<Pc>;
