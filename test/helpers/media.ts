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
