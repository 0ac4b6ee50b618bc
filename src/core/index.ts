// The shared vocabulary: stream names, media requests, the stream gate, refusals and rules matching streams. It imports nothing of the
// HTTP server, the SFU or the protocol servers, and every layer may import it.
export { isStreamName, STREAM_NAME_PATTERN, streamKey, streamPath, type StreamName } from './names.js';
export type { IngestProtocol, LatencyMode, MediaProtocol, MediaRequest, PlayProtocol } from './request.js';
export { Refusal, type DenialReason, type RefusalDetails, type RefusalKind } from './refusal.js';
export type { PlayAdmission, PublishAdmission, PublisherRole, StreamGate } from './gate.js';
export { hostName } from './host.js';
export { bestMatch, ruleMatches, type StreamIdentity, type StreamRule } from './match.js';
