// Types for the parts of node-media-server 4 (plain JavaScript) that whipcast uses: its RTMP protocol engine
// (handshake, chunk stream, AMF0 commands) and its FLV tag writer. We drive them per socket ourselves instead of
// running NMS's server, which keeps global state and a store on disk.
declare module 'node-media-server/src/core/avpacket.js' {
  export default class AVPacket {
    /** FLV SoundFormat / CodecID, or a FourCC for enhanced RTMP. */
    codec_id: number;
    /** 8 audio, 9 video, 18 script data. */
    codec_type: number;
    /** Video: 2 sequence header, 3 key frame, 4 inter frame, 5 script, 6 metadata. Audio: 0 sequence header, 1 frame. */
    flags: number;
    pts: number;
    dts: number;
    size: number;
    /** The FLV tag body. */
    data: Buffer;
  }
}

declare module 'node-media-server/src/protocol/rtmp.js' {
  import type AVPacket from 'node-media-server/src/core/avpacket.js';

  export interface InvokeMessage {
    cmd: string;
    streamName: string;
  }

  export default class Rtmp {
    streamApp: string;
    streamName: string;
    streamHost: string;
    streamId: number;
    parserPacket: { header: { stream_id: number } };
    onConnectCallback: (request: { app: string; name: string; host: string; query: Record<string, unknown> }) => void;
    onPushCallback: () => void;
    onPlayCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    /** Feeds received bytes; returns an error message when the stream is not RTMP. */
    parserData(buffer: Buffer): string | null | undefined;
    onPublish(message: InvokeMessage): void;
    onPlay(message: InvokeMessage): void;
    respondPublish(): void;
    sendStatusMessage(streamId: number, level: string, code: string, description: string): void;
  }
}

declare module 'node-media-server/src/protocol/flv.js' {
  import type AVPacket from 'node-media-server/src/core/avpacket.js';

  export default class Flv {
    /** Called for each tag the parser completes; the packet's data buffer is reused for the next tag. */
    onPacketCallback: (packet: AVPacket) => void;
    /** Feeds FLV bytes; returns an error message when they are not FLV. */
    parserData(buffer: Buffer): string | null;
    static createHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
    static createMessage(packet: AVPacket): Buffer;
  }
}

declare module 'node-media-server/src/core/logger.js' {
  const logger: { level: string };
  export default logger;
}
