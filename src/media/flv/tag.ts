// FLV tags: the unit media moves in on the standard-latency side (RTMP ingest, the SFU egress, HTTP-FLV, and the
// FFmpeg processes that make HLS, relays and recordings). A tag is its type, its decode timestamp and its body.
import Flv from 'node-media-server/src/protocol/flv.js';

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;

export interface FlvTag {
  /** 8 audio, 9 video, 18 script data (metadata). */
  type: number;
  /** Decode timestamp in milliseconds. */
  timestamp: number;
  /** The tag body (what follows the 11-byte tag header). */
  data: Buffer;
}

const AAC = 10;
const EX_HEADER = 0x80;

/** A video key frame of any codec (an AVC or enhanced-RTMP sequence header is flagged "key" too, and is not one). */
export function isKeyFrame(tag: FlvTag): boolean {
  const first = tag.data[0] ?? 0;
  if (tag.type !== TAG_VIDEO || ((first >> 4) & 0x07) !== 1) return false;
  return !isSequenceHeader(tag);
}

/** A codec configuration tag (AVC/HEVC decoder configuration, AAC AudioSpecificConfig). */
export function isSequenceHeader(tag: FlvTag): boolean {
  const first = tag.data[0] ?? 0;
  if (tag.type === TAG_VIDEO) return first & EX_HEADER ? (first & 0x0f) === 0 : tag.data[1] === 0 && (first & 0x0f) === 7;
  if (tag.type === TAG_AUDIO) return first >> 4 === 9 ? (first & 0x0f) === 0 : first >> 4 === AAC && tag.data[1] === 0;
  return false;
}

/** An AVC video tag (legacy FLV codec id 7, not enhanced RTMP). */
function isAvc(tag: FlvTag): boolean {
  const first = tag.data[0] ?? 0;
  return tag.type === TAG_VIDEO && (first & EX_HEADER) === 0 && (first & 0x0f) === 7;
}

/** The SPS and PPS of an AVC sequence header (its AVCDecoderConfigurationRecord), and its NAL length size; undefined if it is not one or is cut short. */
export function avcParameterSets(header: FlvTag): { lengthSize: number; units: Buffer[] } | undefined {
  if (!isAvc(header) || !isSequenceHeader(header)) return undefined;
  const record = header.data.subarray(5);
  if (record.length < 7) return undefined;
  const lengthSize = ((record[4] ?? 0) & 0x03) + 1;
  const units: Buffer[] = [];
  let at = 5;
  for (const countMask of [0x1f, 0xff]) {
    const count = (record[at] ?? 0) & countMask;
    at++;
    for (let i = 0; i < count; i++) {
      if (at + 2 > record.length) return undefined;
      const size = record.readUInt16BE(at);
      if (at + 2 + size > record.length) return undefined;
      units.push(record.subarray(at + 2, at + 2 + size));
      at += 2 + size;
    }
  }
  return units.length > 0 ? { lengthSize, units } : undefined;
}

/** An AVC key frame with the given SPS/PPS put in front of its NAL units (what a decoder that keeps its first parameter sets needs). */
export function withParameterSets(tag: FlvTag, sets: { lengthSize: number; units: Buffer[] }): FlvTag {
  if (!isAvc(tag) || tag.data[1] !== 1) return tag;
  const prefixed = sets.units.map((unit) => {
    const length = Buffer.alloc(sets.lengthSize);
    length.writeUIntBE(unit.length, 0, sets.lengthSize);
    return Buffer.concat([length, unit]);
  });
  return { ...tag, data: Buffer.concat([tag.data.subarray(0, 5), ...prefixed, tag.data.subarray(5)]) };
}

/** The 13 bytes an FLV stream starts with. */
export function flvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  return Flv.createHeader(hasAudio, hasVideo);
}

/** One tag as FLV bytes: header, body, and the PreviousTagSize that follows it. */
export function encodeTag(tag: FlvTag): Buffer {
  const size = tag.data.length;
  const buffer = Buffer.allocUnsafe(11 + size + 4);
  buffer[0] = tag.type;
  buffer.writeUIntBE(size, 1, 3);
  buffer.writeUIntBE(tag.timestamp & 0xffffff, 4, 3);
  buffer[7] = (tag.timestamp >>> 24) & 0xff;
  buffer.writeUIntBE(0, 8, 3);
  tag.data.copy(buffer, 11);
  buffer.writeUInt32BE(11 + size, 11 + size);
  return buffer;
}

/** Splits an FLV byte stream (e.g. FFmpeg's `-f flv pipe:1`) into tags. */
export class FlvDemuxer {
  private readonly parser = new Flv();

  constructor(onTag: (tag: FlvTag) => void) {
    // The parser reuses one buffer for every tag body: copy it out.
    this.parser.onPacketCallback = (packet) => onTag({ type: packet.codec_type, timestamp: packet.dts, data: Buffer.from(packet.data.subarray(0, packet.size)) });
  }

  /** Feeds bytes; returns an error message when the stream is not valid FLV. */
  write(chunk: Buffer): string | undefined {
    return this.parser.parserData(chunk) ?? undefined;
  }
}
