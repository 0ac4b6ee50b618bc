// Checks on media that actually flowed: received H264 RTP is depacketised and decoded by ffprobe.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { H264RtpPayload, type RtpPacket } from 'werift';

const run = promisify(execFile);

export interface DecodedVideo {
  codec: string;
  frames: number;
  hasBFrames: number;
  width: number;
  height: number;
}

/** Reassembles H264 RTP (STAP-A, FU-A, single NAL) in sequence order into an Annex-B stream. */
export function h264AnnexB(packets: RtpPacket[]): Buffer {
  const ordered = [...new Map(packets.map((p) => [p.header.sequenceNumber, p])).values()].sort((a, b) => unwrap(a, packets) - unwrap(b, packets));
  const chunks: Buffer[] = [];
  let fragment: Buffer | undefined;
  for (const packet of ordered) {
    const nal = H264RtpPayload.deSerialize(packet.payload, fragment);
    fragment = nal.fragment;
    if (nal.payload && nal.payload.length > 0) chunks.push(nal.payload);
  }
  return Buffer.concat(chunks);
}

// Sequence numbers wrap at 65536: order by arrival-relative extended sequence.
function unwrap(packet: RtpPacket, all: RtpPacket[]): number {
  const first = all[0]?.header.sequenceNumber ?? 0;
  return (packet.header.sequenceNumber - first + 65536) % 65536;
}

export async function decodeH264(packets: RtpPacket[]): Promise<DecodedVideo> {
  const dir = await mkdtemp(join(tmpdir(), 'whipcast-h264-'));
  try {
    const file = join(dir, 'received.h264');
    await writeFile(file, h264AnnexB(packets));
    const { stdout } = await run('ffprobe', ['-v', 'error', '-f', 'h264', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,nb_read_frames,has_b_frames,width,height', '-of', 'json', file]);
    const stream = (JSON.parse(stdout) as { streams: { codec_name: string; nb_read_frames: string; has_b_frames: number; width: number; height: number }[] }).streams[0];
    if (!stream) throw new Error('ffprobe found no video stream in the received H264');
    return { codec: stream.codec_name, frames: Number(stream.nb_read_frames), hasBFrames: stream.has_b_frames, width: stream.width, height: stream.height };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The size of each frame ffprobe decodes from received H264 ("640x360"), in order. */
export async function decodedFrameSizes(packets: RtpPacket[]): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'whipcast-h264-'));
  try {
    const file = join(dir, 'received.h264');
    await writeFile(file, h264AnnexB(packets));
    const { stdout } = await run('ffprobe', ['-v', 'quiet', '-f', 'h264', '-select_streams', 'v:0', '-show_entries', 'frame=width,height', '-of', 'csv=p=0', file]);
    return stdout.split('\n').flatMap((line) => /^(\d+),(\d+)/.exec(line.trim())?.slice(1, 3).join('x') ?? []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How a video stream is timed and sized: measured from what was received, over whole GOPs. */
export interface VideoTiming {
  fps: number;
  kbps: number;
  /** Seconds from each key frame to the next. */
  keyFrameIntervals: number[];
}

/**
 * Timing of received H264 RTP, by its RTP timestamps (90 kHz media time): from key frame `fromKeyFrame` (0: the
 * first; later ones leave an encoder's start-up out) to the last.
 */
export function rtpVideoTiming(packets: RtpPacket[], fromKeyFrame = 0): VideoTiming {
  const first = packets[0]?.header.timestamp ?? 0;
  const time = (packet: RtpPacket) => ((packet.header.timestamp - first + 2 ** 32) % 2 ** 32) / 90000;
  const keyTimes = [...new Set(packets.filter((p) => startsKeyFrame(p.payload)).map(time))].sort((a, b) => a - b).slice(fromKeyFrame);
  const [start, end] = [keyTimes[0] ?? 0, keyTimes.at(-1) ?? 0];
  const window = packets.filter((p) => time(p) >= start && time(p) < end);
  const frames = new Set(window.map(time)).size;
  const bytes = window.reduce((sum, p) => sum + p.payload.length, 0);
  return {
    fps: end > start ? frames / (end - start) : 0,
    kbps: end > start ? (bytes * 8) / (end - start) / 1000 : 0,
    keyFrameIntervals: keyTimes.slice(1).map((t, i) => t - (keyTimes[i] ?? 0)),
  };
}

/** Whether an H264 RTP payload carries (the start of) an IDR slice: single NAL, STAP-A or FU-A (RFC 6184). */
function startsKeyFrame(payload: Buffer): boolean {
  const type = (payload[0] ?? 0) & 0x1f;
  if (type === 5) return true;
  if (type === 28) return ((payload[1] ?? 0) & 0x80) !== 0 && ((payload[1] ?? 0) & 0x1f) === 5;
  if (type !== 24) return false;
  for (let offset = 1; offset + 2 < payload.length; offset += 2 + payload.readUInt16BE(offset)) {
    if (((payload[offset + 2] ?? 0) & 0x1f) === 5) return true;
  }
  return false;
}
