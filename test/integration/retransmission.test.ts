// Retransmission to a viewer whatever payload types it chose: the consumer sends RTX under the viewer's own RTX
// payload type (scripts/patches/mediasoup-ortc-consumer.patch), answering NACKs from the server's packet buffer.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GenericNack, RtcpTransportLayerFeedback } from 'werift';
import { WebRtcViewer } from '../../sfu/index.js';
import type { WhipcastServer } from '../../src/server.js';
import { startTestServer, waitUntil } from '../helpers/server.js';
import { publish, view } from '../helpers/werift.js';

let server: WhipcastServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

it('a viewer numbering VP8 120 and its RTX 119 gets RTX under 119 for the packets it NACKs', async () => {
  const publisher = await publish(`${server.httpUrl}/whip/live/rtx-pt`, { video: 'VP8' });
  const viewer = await view(`${server.httpUrl}/whep/live/rtx-pt`, { video: ['VP8'], payloadTypes: { VP8: 120 }, rtxPayloadTypes: { VP8: 119 } });
  try {
    await publisher.connected;
    // The answer sends VP8 as 120 and RTX as 119 with apt=120, an RTX SSRC in an FID group.
    const answer = viewer.session.answer;
    expect(answer).toMatch(/a=rtpmap:120 VP8\/90000/);
    expect(answer).toMatch(/a=rtpmap:119 rtx\/90000/);
    expect(answer).toMatch(/a=fmtp:119 apt=120/);
    const fid = /a=ssrc-group:FID (\d+) (\d+)/.exec(answer);
    if (!fid) throw new Error(`no FID group in the answer:\n${answer}`);
    const mediaSsrc = Number(fid[1]);

    await waitUntil(() => viewer.packets.video.length > 60, 'VP8 to reach the viewer');
    // The router's own RTX payload type is another one: what makes this viewer's numbering "unusual".
    const session = server.sessions.list().find((s) => s.kind === 'whep' && s.stream === 'rtx-pt');
    const peer = session?.peer;
    if (!(peer instanceof WebRtcViewer)) throw new Error('no WHEP viewer session');
    const consumer = peer.consumers.find((c) => c.kind === 'video');
    if (!consumer) throw new Error('no video consumer');
    expect(consumer.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([['video/VP8', 120], ['video/rtx', 119]]);

    // NACK ten packets it did receive (werift has no loss here): the server must resend them as RTX.
    const video = viewer.packets.video.filter((p) => p.header.ssrc === mediaSsrc);
    const lost = video.slice(-12, -2).map((p) => p.header.sequenceNumber);
    const before = video.length;
    const transceiver = viewer.pc.getTransceivers().find((t) => t.kind === 'video');
    if (!transceiver) throw new Error('no video transceiver');
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1234, mediaSourceSsrc: mediaSsrc, lost }) });
    await transceiver.receiver.dtlsTransport.sendRtcp([nack]);

    // werift unwraps RTX (looking its payload type up in its own codecs) into the original packet: a second copy of
    // each NACKed sequence number arrives on the media SSRC.
    const copies = (seq: number): number => viewer.packets.video.filter((p) => p.header.ssrc === mediaSsrc && p.header.sequenceNumber === seq).length;
    await waitUntil(() => lost.every((seq) => copies(seq) >= 2), 'the NACKed packets to come again as RTX');
    expect(viewer.packets.video.length).toBeGreaterThan(before);
    const [stats] = await consumer.getStats();
    expect(stats).toMatchObject({ nackCount: 1, nackPacketCount: lost.length });
    expect(stats?.packetsRetransmitted).toBeGreaterThanOrEqual(lost.length);
  } finally {
    await viewer.close();
    await publisher.close();
  }
});
