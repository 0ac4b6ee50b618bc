// Public API of sfu/: everything signaling/ and src/ may use. Nothing here knows HTTP. Tracks are described in
// sfu/'s own types (TrackInfo, TrackKind, TrackCodec) so that the server does not depend on mediasoup's; the
// mediasoup objects a few classes expose (Room.producers, WebRtcPeer.transport) are for benches and tests.
export { Sfu, type SfuOptions, type WorkerUsage } from './Sfu.js';
export { Room, type RoomOptions, type ViewerLink } from './Room.js';
export type { CodecParameters, TrackCodec, TrackInfo, TrackKind } from './tracks.js';
export { WebRtcPeer, type PeerTimeouts } from './WebRtcPeer.js';
export { WebRtcPublisher } from './WebRtcPublisher.js';
export { PlainPublisher, type PlainEndpoint, type PlainTrackSpec } from './PlainPublisher.js';
export { PlainSubscriber, type PlainReceiver, type PlainTrack } from './PlainSubscriber.js';
export { WebRtcViewer, type Layers, type ViewerOptions } from './WebRtcViewer.js';
export type { ListenAddress } from './WorkerPool.js';
export { SdpError, NoCommonCodecError, SourceConflictError, StreamOfflineError } from './errors.js';
export type { FailoverPolicy, SourceChange, SourceRole, SourceState } from './StreamSources.js';
export type { RoomStats, IngressTrackStats, EgressStats } from './stats.js';
export { PUBLISHER_START_KBPS, writeIceFragment, type LocalIce } from './sdp/answer.js';
