// sfu/ logs through the same structured logger as the rest of the server (pino); callers pass a child
// logger carrying the stream and session ids.
export type { Logger } from 'pino';
