// The tracks a stream's viewers are sent, kept across publishers: one Producer per track on a DirectTransport of
// the stream's origin router, fed with the packets of whichever publisher is attached (read through a Consumer on
// the same transport). Viewers consume these producers, never a publisher's own, so a publisher can leave and another
// take its place without any viewer's consumer changing. Each packet gets the track's fixed SSRC, and its sequence
// number and timestamp are moved on by a fixed offset per publisher: sequence numbers go on from the last one sent,
// timestamps by the wall-clock time of the gap, so a viewer's decoder sees one stream that paused. A key-frame
// request of a viewer reaches the stable producer, which sends a PLI/FIR out of the transport: it is passed to the
// attached publisher.
import { randomInt } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { Logger } from './logger.js';

/** The header extensions a Producer proxies to its consumers from the packets it receives (mediasoup adds the rest). */
const PROXIED_EXTENSIONS = new Set(['urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'urn:3gpp:video-orientation', 'urn:ietf:params:rtp-hdrext:toffset']);
const RTCP_PSFB = 206;
const PSFB_PLI = 1;
const PSFB_FIR = 4;

/** What a stable track sent last: where the next publisher's packets go on from. */
interface LastSent {
  seq: number;
  ts: number;
  atMs: number;
}

/** The attached publisher's feed of one track, and the offsets its packets get (fixed at its first packet). */
interface Feed {
  consumer: ms.Consumer;
  seqDelta?: number;
  tsDelta?: number;
}

class StableTrack {
  private last: LastSent | undefined;
  /** The feed the track sends, and the one that takes over at its first packet (a switch between live publishers). */
  private current: Feed | undefined;
  private next: Feed | undefined;

  constructor(
    readonly producer: ms.Producer,
    private readonly ssrc: number,
    private readonly clockRate: number,
    /** Called at the next feed's first packet: the switch is due (video: that packet starts a key frame). */
    private readonly onNextReady: (track: StableTrack) => void,
  ) {}

  get kind(): ms.MediaKind {
    return this.producer.kind;
  }

  get mimeType(): string {
    return this.producer.rtpParameters.codecs[0]?.mimeType.toLowerCase() ?? '';
  }

  get hasNext(): boolean {
    return this.next !== undefined;
  }

  /**
   * Feeds the track from this consumer. With nothing being sent, at once; else the current feed goes on until the
   * new one has a packet (see StableTracks.attach), so a switch between two live publishers leaves no gap.
   */
  feedFrom(consumer: ms.Consumer): void {
    this.next?.consumer.close();
    const feed: Feed = { consumer };
    consumer.on('rtp', (packet) => this.forward(feed, packet));
    if (this.current) this.next = feed;
    else this.current = feed;
  }

  /** The next feed takes over; the current one is closed. */
  promote(): void {
    if (!this.next) return;
    this.current?.consumer.close();
    this.current = this.next;
    this.next = undefined;
  }

  stopFeed(): void {
    this.current?.consumer.close();
    this.next?.consumer.close();
    this.current = undefined;
    this.next = undefined;
  }

  requestKeyFrame(): void {
    for (const feed of [this.next, this.current]) feed?.consumer.requestKeyFrame().catch(() => undefined);
  }

  private forward(feed: Feed, packet: Buffer): void {
    if (feed === this.next) this.onNextReady(this);
    if (feed !== this.current || this.producer.closed || packet.length < 12) return;
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    const now = performance.now();
    if (feed.seqDelta === undefined || feed.tsDelta === undefined) {
      const last = this.last;
      feed.seqDelta = last ? last.seq + 1 - seq : 0;
      feed.tsDelta = last ? last.ts + Math.max(1, Math.round(((now - last.atMs) * this.clockRate) / 1000)) - ts : 0;
    }
    const outSeq = (seq + feed.seqDelta) & 0xffff;
    const outTs = (((ts + feed.tsDelta) % 2 ** 32) + 2 ** 32) % 2 ** 32;
    packet.writeUInt16BE(outSeq, 2);
    packet.writeUInt32BE(outTs, 4);
    packet.writeUInt32BE(this.ssrc, 8);
    // Retransmissions arrive late: only the newest packet moves the point the next publisher goes on from.
    if (!this.last || ((outSeq - this.last.seq) & 0xffff) < 0x8000) this.last = { seq: outSeq, ts: outTs, atMs: now };
    this.producer.send(packet);
  }
}

export class StableTracks {
  private constructor(
    private readonly transport: ms.DirectTransport,
    private readonly rtpCapabilities: ms.RtpCapabilities,
    private readonly tracks: StableTrack[],
    private readonly logger: Logger,
  ) {
    transport.on('rtcp', (packet) => this.onRtcp(packet));
  }

  /** Stable tracks shaped after these (single-layer) producers of `router`; attach() feeds them. */
  static async create(router: ms.Router, sources: readonly ms.Producer[], logger: Logger): Promise<StableTracks> {
    const transport = await router.createDirectTransport();
    let switchOver: (track: StableTrack) => void = () => undefined;
    try {
      const tracks: StableTrack[] = [];
      for (const source of sources) {
        const consumer = await transport.consume({ producerId: source.id, rtpCapabilities: router.rtpCapabilities });
        const [codec] = consumer.rtpParameters.codecs;
        if (!codec) throw new Error(`no codec to relay ${source.kind}`);
        const ssrc = randomInt(1, 2 ** 32 - 1);
        const producer = await transport.produce({
          kind: source.kind,
          rtpParameters: {
            codecs: [{ ...codec, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
            encodings: [{ ssrc }],
            headerExtensions: (consumer.rtpParameters.headerExtensions ?? []).filter((e) => PROXIED_EXTENSIONS.has(e.uri)),
            rtcp: { cname: `whipcast-${ssrc}`, reducedSize: true },
          },
        });
        // It was made to learn how the router sends this track; attach() feeds the tracks.
        consumer.close();
        tracks.push(new StableTrack(producer, ssrc, codec.clockRate, (t) => switchOver(t)));
      }
      const stable = new StableTracks(transport, router.rtpCapabilities, tracks, logger);
      switchOver = (t) => stable.nextReady(t);
      return stable;
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /** The producers viewers consume, in the order of the sources they were made after. */
  get producers(): ms.Producer[] {
    return this.tracks.map((t) => t.producer);
  }

  /** Whether a publisher with these tracks can feed the stable ones: one of each track's kind and codec, nothing else. */
  fits(codecs: readonly { kind: string; mimeType: string }[]): boolean {
    const list = (tracks: readonly { kind: string; mimeType: string }[]): string => tracks.map((t) => `${t.kind}:${t.mimeType.toLowerCase()}`).sort().join(',');
    return list(this.tracks) === list(codecs);
  }

  /**
   * Feeds the tracks from a new publisher's producers (see fits()). Where a track sends nothing (the publisher
   * left), the new feed starts at once, video at its first key frame. Where the tracks are being fed (a switch
   * between two live publishers), the current feeds go on until the new video's first key frame arrives, and every
   * track switches then: no gap, and audio switches with the picture.
   */
  async attach(sources: readonly ms.Producer[]): Promise<void> {
    for (const track of this.tracks) {
      const source = sources.find((s) => s.kind === track.kind);
      if (!source) continue;
      const consumer = await this.transport.consume({ producerId: source.id, rtpCapabilities: this.rtpCapabilities });
      track.feedFrom(consumer);
      if (track.kind === 'video') track.requestKeyFrame();
    }
  }

  /** A track's next feed has its first packet: video (or a stream's only kind) switches every track over. */
  private nextReady(track: StableTrack): void {
    const leader = this.tracks.find((t) => t.kind === 'video' && t.hasNext) ?? track;
    if (track !== leader) return;
    for (const t of this.tracks) t.promote();
  }

  /** Stops feeding the tracks (the publisher left); viewers keep their consumers, which send nothing meanwhile. */
  detach(): void {
    for (const track of this.tracks) track.stopFeed();
  }

  close(): void {
    this.transport.close();
  }

  /** A viewer's key-frame request, sent out by a stable producer, goes to the attached publisher. */
  private onRtcp(packet: Buffer): void {
    for (let offset = 0; offset + 4 <= packet.length; offset += (packet.readUInt16BE(offset + 2) + 1) * 4) {
      const format = (packet[offset] ?? 0) & 0x1f;
      if (packet[offset + 1] !== RTCP_PSFB || (format !== PSFB_PLI && format !== PSFB_FIR)) continue;
      this.logger.debug('key frame requested by a viewer');
      for (const track of this.tracks) if (track.kind === 'video') track.requestKeyFrame();
      return;
    }
  }
}
