// SDP ⇄ mediasoup translation against real offers (test/fixtures/sdp.ts): parseOffer, producerParametersFromOffer,
// writeAnswer, planViewer/matchViewerCodec and writeIceFragment. No server and no mediasoup worker: mediasoup's own
// ORTC functions (the ones Transport.produce/consume run before talking to the worker) stand in for the router.
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import * as ortc from 'mediasoup/node/lib/ortc.js';
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { routerMediaCodecs, streamRouterCodecs } from '../../sfu/codecs.js';
import { NoCommonCodecError, SdpError } from '../../sfu/errors.js';
import { answerSetup, writeAnswer, writeIceFragment, type AnswerSection, type LocalIce } from '../../sfu/sdp/answer.js';
import { parseOffer, type OfferedMedia, type ParsedOffer } from '../../sfu/sdp/offer.js';
import { isMediaSection, matchViewerCodec, producerParametersFromOffer, type AcceptedSendMedia } from '../../sfu/sdp/rtpParameters.js';
import { planViewer, type TrackSource } from '../../sfu/WebRtcViewer.js';
import {
  CHROME_SIMULCAST_OFFER,
  CHROME_WHEP_OFFER,
  CHROME_WHIP_OFFER,
  CHROMIUM_AUDIO_ONLY_OFFER,
  CHROMIUM_VIDEO_ONLY_OFFER,
  CHROMIUM_WHEP_OFFER,
  CHROMIUM_WHIP_OFFER_H264,
  CHROMIUM_WHIP_OFFER_VP8,
  CHROMIUM_WHIP_SIMULCAST_OFFER,
  FIREFOX_121_SENDRECV_OFFER,
  FIREFOX_WHEP_OFFER,
  FIREFOX_WHIP_OFFER,
  FIREFOX_WHIP_SIMULCAST_OFFER,
  OBS_WHIP_OFFER,
  SDP_FIXTURES,
} from '../fixtures/sdp.js';

const supported = mediasoup.getSupportedRtpCapabilities();

const LOCAL: LocalIce = {
  iceParameters: { usernameFragment: 'srvufrag1234', password: 'srvpassword0123456789abcd', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, ip: '192.0.2.10', protocol: 'udp', port: 40000, type: 'host', tcpType: undefined },
    { foundation: 'tcpcandidate', priority: 1076276479, ip: '192.0.2.10', protocol: 'tcp', port: 40000, type: 'host', tcpType: 'passive' },
  ],
  fingerprint: { algorithm: 'sha-256', value: '0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9' },
};

function must<T>(value: T | undefined | null, what = 'value'): T {
  if (value === undefined || value === null) throw new Error(`missing ${what}`);
  return value;
}

/** Replaces text that must be in the fixture (so that a fixture change cannot silently turn a test into a no-op). */
function edit(sdp: string, from: string | RegExp, to: string): string {
  const changed = sdp.replace(from, to);
  if (changed === sdp) throw new Error(`fixture edit did not apply: ${String(from)}`);
  return changed;
}

/** Replaces one whole m= section (by its index) of a fixture. */
function replaceSection(sdp: string, index: number, section: string): string {
  const parts = sdp.split(/(?=^m=)/m);
  if (parts[index + 1] === undefined) throw new Error(`no m= section ${index}`);
  parts[index + 1] = section;
  return parts.join('');
}

function crlf(lines: string[]): string {
  return lines.map((l) => `${l}\r\n`).join('');
}

/** OBS's session part (ICE credentials, fingerprint and setup at session level) with other m= sections. */
const OBS_SESSION = OBS_WHIP_OFFER.slice(0, OBS_WHIP_OFFER.indexOf('m=audio'));

const params = (c: { parameters?: unknown }): Record<string, unknown> => (c.parameters ?? {}) as Record<string, unknown>;

function accept(sdp: string): { offer: ParsedOffer; accepted: AcceptedSendMedia[] } {
  const offer = parseOffer(sdp);
  return { offer, accepted: producerParametersFromOffer(offer.media, supported) };
}

function byMid(accepted: AcceptedSendMedia[], mid: string): AcceptedSendMedia {
  return must(accepted.find((a) => a.media.mid === mid), `accepted section mid=${mid}`);
}

/** The answer sections WebRtcPublisher builds from the accepted sections. */
function receiveSections(offer: ParsedOffer, accepted: AcceptedSendMedia[]): AnswerSection[] {
  return offer.media.map((m) => {
    const a = accepted.find((x) => x.media === m);
    return a && { direction: 'recvonly', rtpParameters: a.rtpParameters, rids: m.rids };
  });
}

function whipAnswer(sdp: string): { offer: ParsedOffer; accepted: AcceptedSendMedia[]; answer: string; parsed: sdpTransform.SessionDescription } {
  const { offer, accepted } = accept(sdp);
  const answer = writeAnswer(offer, LOCAL, receiveSections(offer, accepted));
  return { offer, accepted, answer, parsed: sdpTransform.parse(answer) };
}

/** The BUNDLE group of a parsed answer (sdp-transform turns an all-digit value such as "0" into a number). */
function bundle(parsed: sdpTransform.SessionDescription): string[] {
  const groups = parsed.groups ?? [];
  expect(groups.map((g) => g.type)).toEqual(['BUNDLE']);
  return String(must(groups[0]).mids).split(' ');
}

function answerSection(parsed: sdpTransform.SessionDescription, mid: string): MediaDescription {
  return must(parsed.media.find((m) => String(m.mid) === mid), `answer section mid=${mid}`);
}

/** The stream tracks a Room keeps for a publisher (first codec of each producer, in offer order). */
function tracksOf(accepted: AcceptedSendMedia[]): TrackSource[] {
  return accepted.map((a, i) => ({ producerId: `producer-${i}`, kind: a.kind, codec: must(a.rtpParameters.codecs[0]) }));
}

const H264_42E01F: ms.RtpCodecParameters = {
  mimeType: 'video/H264',
  payloadType: 102,
  clockRate: 90000,
  parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  rtcpFeedback: [],
};
const H264_HIGH: ms.RtpCodecParameters = { ...H264_42E01F, parameters: { 'packetization-mode': 1, 'profile-level-id': '64001f', 'level-asymmetry-allowed': 1 } };
const OPUS: ms.RtpCodecParameters = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [] };
const VP8: ms.RtpCodecParameters = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] };
const VP9_2: ms.RtpCodecParameters = { mimeType: 'video/VP9', payloadType: 100, clockRate: 90000, parameters: { 'profile-id': 2 }, rtcpFeedback: [] };

const track = (codec: ms.RtpCodecParameters, i = 0): TrackSource => ({ producerId: `producer-${i}`, kind: codec.mimeType.startsWith('audio/') ? 'audio' : 'video', codec });

// ---------------------------------------------------------------------------------------------------------------------

type Expected = { mids: string[]; kinds: string[]; direction: OfferedMedia['direction']; ufrag: string; pwd: string; sessionLevelIce: boolean };

const EXPECTED: Record<string, Expected> = {
  OBS_WHIP_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: 'v3f/', pwd: '4b+Ogzsq+Xx0AEkYvTvG/n', sessionLevelIce: true },
  FIREFOX_WHIP_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: 'af9ac0bd', pwd: 'ae8ace564f6169561ba7841147d9601e', sessionLevelIce: false },
  FIREFOX_WHEP_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'recvonly', ufrag: '67829d76', pwd: '89ee8df85337765f4e5f70a02861544d', sessionLevelIce: false },
  FIREFOX_WHIP_SIMULCAST_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: '9a80a0f6', pwd: 'a65d3e7bf29daebb51b6fac6146bd667', sessionLevelIce: false },
  FIREFOX_121_SENDRECV_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendrecv', ufrag: '6c0579ea', pwd: '59efe498b762e472067fa5e134df8722', sessionLevelIce: false },
  CHROME_WHIP_OFFER: { mids: ['0', '1'], kinds: ['video', 'audio'], direction: 'sendonly', ufrag: 'PeYM', pwd: 'GDZQ30hwMK+5m/uVP3C0EQvf', sessionLevelIce: false },
  CHROME_SIMULCAST_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: 'bIQJ', pwd: 'OQKiPkYpIOfGNxR1KUMNgo+N', sessionLevelIce: false },
  CHROME_WHEP_OFFER: { mids: ['0', '1'], kinds: ['video', 'audio'], direction: 'recvonly', ufrag: 'BRD8', pwd: '8e+C7eV4BeLTWG9HvRNQZ52S', sessionLevelIce: false },
  CHROMIUM_WHIP_OFFER_H264: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: 'zd9g', pwd: 'M+M1aqSE+GbXrrLkzEtwr9Sa', sessionLevelIce: false },
  CHROMIUM_WHIP_OFFER_VP8: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: 'PNYT', pwd: 'QX3mAOJebhbVZrN7yvDxzGDx', sessionLevelIce: false },
  CHROMIUM_WHIP_SIMULCAST_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'sendonly', ufrag: 'n/Qu', pwd: '/tyUiTYN1SjXqHkOKMvm1aJo', sessionLevelIce: false },
  CHROMIUM_WHEP_OFFER: { mids: ['0', '1'], kinds: ['audio', 'video'], direction: 'recvonly', ufrag: 'WxQ6', pwd: 'y2gdyQ0HD38/NXXSbgr4Whnf', sessionLevelIce: false },
  CHROMIUM_AUDIO_ONLY_OFFER: { mids: ['0'], kinds: ['audio'], direction: 'sendonly', ufrag: '5gQb', pwd: 'kwt9JHGgVPGOnpGG5/NKbQn4', sessionLevelIce: false },
  CHROMIUM_VIDEO_ONLY_OFFER: { mids: ['0'], kinds: ['video'], direction: 'sendonly', ufrag: 'cTta', pwd: 'XSeLGM+MswLTU9M3tK8VIoiu', sessionLevelIce: false },
};

const WHIP_FIXTURES = Object.entries(SDP_FIXTURES).filter(([name]) => EXPECTED[name]?.direction !== 'recvonly');
const WHEP_FIXTURES = Object.entries(SDP_FIXTURES).filter(([name]) => EXPECTED[name]?.direction === 'recvonly');

describe('parseOffer', () => {
  it('has expectations for every fixture', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(SDP_FIXTURES).sort());
  });

  it.each(Object.entries(SDP_FIXTURES))('%s: mids, kinds, directions, ICE credentials, fingerprint, setup', (name, sdp) => {
    const expected = must(EXPECTED[name]);
    const offer = parseOffer(sdp);
    expect(offer.media.map((m) => m.mid)).toEqual(expected.mids);
    expect(offer.media.map((m) => m.kind)).toEqual(expected.kinds);
    expect(offer.media.map((m) => m.type)).toEqual(expected.kinds);
    expect(offer.media.map((m) => m.direction)).toEqual(expected.mids.map(() => expected.direction));
    expect(offer.media.map((m) => m.index)).toEqual(expected.mids.map((_, i) => i));
    expect(offer.media.every((m) => m.protocol === 'UDP/TLS/RTP/SAVPF')).toBe(true);
    expect(offer.iceUfrag).toBe(expected.ufrag);
    expect(offer.icePwd).toBe(expected.pwd);
    // Where the credentials were: OBS (libdatachannel) only at session level, the browsers only in each m= section.
    const raw = sdpTransform.parse(sdp);
    expect(raw.iceUfrag !== undefined).toBe(expected.sessionLevelIce);
    expect(raw.media.every((m) => m.iceUfrag === undefined)).toBe(expected.sessionLevelIce);

    const fingerprint = must(/^a=fingerprint:(\S+) (\S+)\r$/m.exec(sdp), 'fingerprint line');
    expect(offer.fingerprint).toEqual({ algorithm: 'sha-256', value: must(fingerprint[2]) });
    expect(offer.fingerprint.value).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(offer.setup).toBe('actpass');
    expect(offer.extmapAllowMixed).toBe(sdp.includes('a=extmap-allow-mixed'));
    // Every payload type of each m= line is a codec, in m= line order.
    for (const [i, m] of offer.media.entries()) {
      expect(m.codecs.map((c) => c.payloadType)).toEqual(String(must(raw.media[i]).payloads).split(' ').map(Number));
      expect(m.firstPayload).toBe(String(m.codecs[0]?.payloadType));
    }
  });

  it('reads codecs: mime type as offered, clock rate, channels, fmtp and known rtcp-fb only', () => {
    const obs = parseOffer(OBS_WHIP_OFFER);
    expect(obs.media[0]?.codecs).toEqual([
      { payloadType: 111, mimeType: 'audio/OPUS', clockRate: 48000, channels: 2, parameters: { minptime: 10, maxaveragebitrate: 96000, stereo: 1, 'sprop-stereo': 1, useinbandfec: 1 }, rtcpFeedback: [] },
    ]);
    expect(obs.media[1]?.codecs).toEqual([
      {
        payloadType: 96,
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
        rtcpFeedback: [
          { type: 'nack', parameter: '' },
          { type: 'nack', parameter: 'pli' },
          { type: 'goog-remb', parameter: '' },
        ],
      },
    ]);
    const firefox = parseOffer(FIREFOX_WHIP_OFFER);
    const audio = must(firefox.media[0]);
    expect(audio.codecs.map((c) => [c.mimeType, c.clockRate, c.channels])).toEqual([
      ['audio/opus', 48000, 2],
      ['audio/G722', 8000, 1],
      ['audio/PCMU', 8000, 1],
      ['audio/PCMA', 8000, 1],
      ['audio/telephone-event', 8000, 1],
    ]);
    expect(must(firefox.media[1]).codecs.find((c) => c.payloadType === 124)).toMatchObject({ mimeType: 'video/rtx', parameters: { apt: 120 }, rtcpFeedback: [] });
    // Video codecs carry no channels.
    expect(must(firefox.media[1]).codecs.every((c) => c.channels === undefined)).toBe(true);
  });

  it('codecs follow the m= line format list (order and membership), not the order of the a=rtpmap lines', () => {
    const reordered = edit(CHROMIUM_AUDIO_ONLY_OFFER, 'SAVPF 111 63 9 0 8 13 110 126', 'SAVPF 0 111 126');
    expect(parseOffer(reordered).media[0]?.codecs.map((c) => [c.payloadType, c.mimeType])).toEqual([
      [0, 'audio/PCMU'],
      [111, 'audio/opus'],
      [126, 'audio/telephone-event'],
    ]);
  });

  it('reads SSRCs: the media SSRC, its FID RTX and the cname; a=ssrc without a group means no RTX', () => {
    const obs = parseOffer(OBS_WHIP_OFFER);
    expect(obs.media.map((m) => m.ssrcs.media)).toEqual([[2168349679], [2168349680]]);
    expect(obs.media.map((m) => m.ssrcs.rtx.size)).toEqual([0, 0]);
    expect(obs.media.map((m) => m.ssrcs.cname)).toEqual(['OTU9sDg2gfT6S7D7', 'OTU9sDg2gfT6S7D7']);

    const chromium = parseOffer(CHROMIUM_WHIP_OFFER_H264);
    expect(chromium.media[1]?.ssrcs.media).toEqual([3553840218]);
    expect([...must(chromium.media[1]).ssrcs.rtx]).toEqual([[3553840218, 4164516173]]);
    expect(chromium.media[1]?.ssrcs.cname).toBe('gCf0c1Amlp6De+QB');

    // Firefox simulcast announces three FID pairs without a SIM group: the rids describe the layers.
    const firefox = parseOffer(FIREFOX_WHIP_SIMULCAST_OFFER);
    expect(firefox.media[1]?.ssrcs.rtx.size).toBe(3);
    expect(firefox.media[1]?.rids).toEqual(['q', 'h', 'f']);
    // Chrome's rid simulcast has no a=ssrc at all.
    const chrome = parseOffer(CHROME_SIMULCAST_OFFER);
    expect(chrome.media[1]?.ssrcs).toEqual({ media: [], rtx: new Map() });
    expect(chrome.media[1]?.rids).toEqual(['q', 'h', 'f']);
  });

  it('reads a SIM group as several media SSRCs, each with its FID RTX', () => {
    const sdp = edit(
      CHROMIUM_VIDEO_ONLY_OFFER,
      'a=ssrc-group:FID 2937141570 2389850751\r\n',
      crlf(['a=ssrc-group:SIM 11 22 33', 'a=ssrc-group:FID 11 12', 'a=ssrc-group:FID 22 23', 'a=ssrc-group:FID 33 34', 'a=ssrc:11 cname:x', 'a=ssrc:12 cname:x', 'a=ssrc:22 cname:x', 'a=ssrc:23 cname:x', 'a=ssrc:33 cname:x', 'a=ssrc:34 cname:x']),
    ).replace(/a=ssrc:(2937141570|2389850751) .*\r\n/g, '');
    const { accepted } = accept(sdp);
    expect(accepted[0]?.rtpParameters.encodings).toEqual([
      { ssrc: 11, rtx: { ssrc: 12 } },
      { ssrc: 22, rtx: { ssrc: 23 } },
      { ssrc: 33, rtx: { ssrc: 34 } },
    ]);
  });

  it('orders rids as the a=simulcast send list says (RFC 8853 and draft-03 forms, paused and alternatives)', () => {
    const base = FIREFOX_WHIP_SIMULCAST_OFFER;
    const rids = (sdp: string): string[] => must(parseOffer(sdp).media[1]).rids;
    // a=rid lines in another order than a=simulcast: a=simulcast wins.
    expect(rids(edit(base, 'a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n', 'a=rid:f send\r\na=rid:h send\r\na=rid:q send\r\n'))).toEqual(['q', 'h', 'f']);
    expect(rids(edit(base, 'a=simulcast:send q;h;f', 'a=simulcast:send f;h;q'))).toEqual(['f', 'h', 'q']);
    // Older Firefox wrote draft-03: "a=simulcast: send rid=q;h;f".
    expect(rids(edit(base, 'a=simulcast:send q;h;f', 'a=simulcast: send rid=h;q;f'))).toEqual(['h', 'q', 'f']);
    expect(rids(edit(base, 'a=simulcast:send q;h;f', 'a=simulcast: send rid=h;q;f paused=q'))).toEqual(['h', 'q', 'f']);
    // Paused (~) layers are still layers; of alternatives the first is taken; unknown rids are ignored.
    expect(rids(edit(base, 'a=simulcast:send q;h;f', 'a=simulcast:send ~q;h,x;f;zz'))).toEqual(['q', 'h', 'f']);
    // Without a=simulcast the a=rid order is kept; recv rids are not ours to receive.
    expect(rids(edit(base, 'a=simulcast:send q;h;f\r\n', ''))).toEqual(['q', 'h', 'f']);
    expect(rids(edit(base, 'a=rid:h send', 'a=rid:h recv'))).toEqual(['q', 'f']);
  });

  it('keeps all-digit values as strings: ICE credentials, numeric rids, a one-SSRC group, a decimal profile-level-id', () => {
    // sdp-transform turns any all-digit value into a number; a Firefox ufrag is 8 hex digits, sometimes all decimal.
    const offer = parseOffer(edit(edit(FIREFOX_WHIP_OFFER, /a=ice-ufrag:af9ac0bd/g, 'a=ice-ufrag:12345678'), /a=ice-pwd:ae8ace564f6169561ba7841147d9601e/g, 'a=ice-pwd:12345678901234567890123456789012'));
    expect(offer.iceUfrag).toBe('12345678');
    expect(offer.icePwd).toBe('12345678901234567890123456789012');

    const single = edit(edit(FIREFOX_WHIP_SIMULCAST_OFFER, 'a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n', 'a=rid:1 send\r\n'), 'a=simulcast:send q;h;f', 'a=simulcast:send 1');
    expect(parseOffer(single).media[1]?.rids).toEqual(['1']);
    const numeric = edit(edit(FIREFOX_WHIP_SIMULCAST_OFFER, 'a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n', 'a=rid:0 send\r\na=rid:1 send\r\na=rid:2 send\r\n'), 'a=simulcast:send q;h;f', 'a=simulcast:send 2;1;0');
    expect(parseOffer(numeric).media[1]?.rids).toEqual(['2', '1', '0']);

    const oneSsrcSim = edit(CHROMIUM_VIDEO_ONLY_OFFER, 'a=ssrc-group:FID 2937141570 2389850751', 'a=ssrc-group:SIM 2937141570');
    expect(parseOffer(oneSsrcSim).media[0]?.ssrcs.media).toEqual([2937141570]);

    // FFmpeg's WHIP muxer writes the profile-level-id of its actual stream, e.g. High 4.0 = 640028.
    const high40 = parseOffer(edit(OBS_WHIP_OFFER, 'profile-level-id=42e01f', 'profile-level-id=640028'));
    expect(high40.media[1]?.codecs[0]?.parameters['profile-level-id']).toBe('640028');
  });

  it('takes media-level over session-level values, and honours a=setup:active/passive', () => {
    expect(parseOffer(edit(OBS_WHIP_OFFER, 'a=setup:actpass', 'a=setup:active')).setup).toBe('active');
    expect(parseOffer(edit(OBS_WHIP_OFFER, 'a=setup:actpass', 'a=setup:passive')).setup).toBe('passive');
    expect(parseOffer(edit(CHROMIUM_WHIP_OFFER_H264, /a=setup:actpass/g, 'a=setup:passive')).setup).toBe('passive');
    // Credentials in the first m= section win over (hypothetical) session-level ones.
    const both = edit(CHROMIUM_AUDIO_ONLY_OFFER, 't=0 0\r\n', 't=0 0\r\na=ice-ufrag:sess\r\na=ice-pwd:sessionpasswordsessionpw\r\n');
    expect(parseOffer(both)).toMatchObject({ iceUfrag: '5gQb', icePwd: 'kwt9JHGgVPGOnpGG5/NKbQn4' });
    // The fingerprint is normalised: algorithm lower case, value upper case.
    const lower = parseOffer(edit(OBS_WHIP_OFFER, 'a=fingerprint:sha-256 82:06:23:C6', 'a=fingerprint:SHA-256 82:06:23:c6'));
    expect(lower.fingerprint.algorithm).toBe('sha-256');
    expect(lower.fingerprint.value.startsWith('82:06:23:C6:')).toBe(true);
  });

  it('accepts LF-only line endings', () => {
    const offer = parseOffer(OBS_WHIP_OFFER.replace(/\r\n/g, '\n'));
    expect(offer.media.map((m) => m.mid)).toEqual(['0', '1']);
    expect(offer.iceUfrag).toBe('v3f/');
  });
});

describe('parseOffer errors', () => {
  const expectSdpError = (sdp: string, message: string | RegExp): void => {
    let error: unknown;
    try {
      parseOffer(sdp);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SdpError);
    expect((error as SdpError).name).toBe('SdpError');
    if (typeof message === 'string') expect((error as Error).message).toBe(message);
    else expect((error as Error).message).toMatch(message);
  };

  it('empty string / whitespace', () => {
    expectSdpError('', 'empty SDP offer');
    expectSdpError(' \r\n\t', 'empty SDP offer');
  });

  it('garbage', () => {
    expectSdpError('hello world', 'malformed SDP: it must start with "v=0"');
    expectSdpError('{"type":"offer","sdp":"v=0"}', 'malformed SDP: it must start with "v=0"');
    expectSdpError(`x${OBS_WHIP_OFFER}`, 'malformed SDP: it must start with "v=0"');
  });

  it('no m= line', () => {
    expectSdpError(crlf(['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx']), 'SDP offer has no m= section');
    expectSdpError(OBS_WHIP_OFFER.slice(0, OBS_WHIP_OFFER.indexOf('m=audio')), 'SDP offer has no m= section');
  });

  it('missing ice-ufrag or ice-pwd (session- or media-level)', () => {
    expectSdpError(edit(OBS_WHIP_OFFER, /a=ice-ufrag:.*\r\n/g, ''), 'SDP offer has no a=ice-ufrag/a=ice-pwd');
    expectSdpError(edit(OBS_WHIP_OFFER, /a=ice-pwd:.*\r\n/g, ''), 'SDP offer has no a=ice-ufrag/a=ice-pwd');
    expectSdpError(edit(CHROMIUM_WHIP_OFFER_H264, /a=ice-ufrag:.*\r\n/g, ''), 'SDP offer has no a=ice-ufrag/a=ice-pwd');
  });

  it('missing fingerprint (session- or media-level)', () => {
    expectSdpError(edit(OBS_WHIP_OFFER, /a=fingerprint:.*\r\n/g, ''), 'SDP offer has no a=fingerprint (DTLS is required)');
    expectSdpError(edit(FIREFOX_WHIP_OFFER, /a=fingerprint:.*\r\n/g, ''), 'SDP offer has no a=fingerprint (DTLS is required)');
    expectSdpError(edit(CHROME_WHIP_OFFER, /a=fingerprint:.*\r\n/g, ''), 'SDP offer has no a=fingerprint (DTLS is required)');
  });

  it('invalid a=setup', () => {
    expectSdpError(edit(OBS_WHIP_OFFER, 'a=setup:actpass', 'a=setup:holdconn'), 'SDP offer has an invalid a=setup:holdconn');
  });

  it('duplicate or missing mids', () => {
    expectSdpError(edit(CHROMIUM_WHIP_OFFER_H264, 'a=mid:1', 'a=mid:0'), 'SDP offer repeats a=mid:0');
    expectSdpError(edit(OBS_WHIP_OFFER, 'a=mid:1', 'a=mid:0'), 'SDP offer repeats a=mid:0');
    expectSdpError(edit(OBS_WHIP_OFFER, 'a=mid:1\r\n', ''), 'm= section 1 (video) has no a=mid');
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('producerParametersFromOffer', () => {
  it('OBS: H264 42e01f packetization-mode=1 and Opus, SSRC from a=ssrc alone, no RTX, no header extensions', () => {
    const { accepted } = accept(OBS_WHIP_OFFER);
    expect(accepted.map((a) => [a.media.mid, a.kind])).toEqual([
      ['0', 'audio'],
      ['1', 'video'],
    ]);
    expect(byMid(accepted, '0').rtpParameters).toEqual({
      mid: '0',
      codecs: [{ mimeType: 'audio/OPUS', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, maxaveragebitrate: 96000, stereo: 1, 'sprop-stereo': 1, useinbandfec: 1 }, rtcpFeedback: [] }],
      headerExtensions: [],
      encodings: [{ ssrc: 2168349679 }],
      rtcp: { cname: 'OTU9sDg2gfT6S7D7', reducedSize: true },
    });
    expect(byMid(accepted, '1').rtpParameters).toEqual({
      mid: '1',
      codecs: [
        {
          mimeType: 'video/H264',
          payloadType: 96,
          clockRate: 90000,
          parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
          rtcpFeedback: [
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
            { type: 'goog-remb', parameter: '' },
          ],
        },
      ],
      headerExtensions: [],
      encodings: [{ ssrc: 2168349680 }],
      rtcp: { cname: 'OTU9sDg2gfT6S7D7', reducedSize: true },
    });
  });

  it('Chromium, H264 first: H264 42e01f (pt 108) with its RTX (apt) and the FID SSRC pair', () => {
    const { accepted } = accept(CHROMIUM_WHIP_OFFER_H264);
    const video = byMid(accepted, '1').rtpParameters;
    expect(video.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([
      ['video/H264', 108],
      ['video/rtx', 109],
    ]);
    expect(video.codecs[0]?.parameters).toEqual({ 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' });
    expect(video.codecs[1]).toEqual({ mimeType: 'video/rtx', payloadType: 109, clockRate: 90000, parameters: { apt: 108 }, rtcpFeedback: [] });
    expect(video.encodings).toEqual([{ ssrc: 3553840218, rtx: { ssrc: 4164516173 } }]);
    expect(video.rtcp).toEqual({ cname: 'gCf0c1Amlp6De+QB', reducedSize: true });
    const audio = byMid(accepted, '0').rtpParameters;
    expect(audio.codecs.map((c) => [c.mimeType, c.payloadType, c.channels])).toEqual([['audio/opus', 111, 2]]);
    expect(audio.encodings).toEqual([{ ssrc: 4042669969 }]);
  });

  it('Chromium, VP8 first: VP8 (pt 96) + RTX 97 with the FID SSRC pair', () => {
    const { accepted } = accept(CHROMIUM_WHIP_OFFER_VP8);
    const video = byMid(accepted, '1').rtpParameters;
    expect(video.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([
      ['video/VP8', 96],
      ['video/rtx', 97],
    ]);
    expect(video.codecs[1]?.parameters).toEqual({ apt: 96 });
    expect(video.encodings).toEqual([{ ssrc: 3932076588, rtx: { ssrc: 1749307071 } }]);
  });

  it('Chrome (video section first): VP8 + RTX for mid 0, Opus for mid 1', () => {
    const { accepted } = accept(CHROME_WHIP_OFFER);
    expect(accepted.map((a) => [a.media.mid, a.kind, a.rtpParameters.codecs.map((c) => c.payloadType)])).toEqual([
      ['0', 'video', [96, 97]],
      ['1', 'audio', [111]],
    ]);
    expect(byMid(accepted, '0').rtpParameters.encodings).toEqual([{ ssrc: 3856340930, rtx: { ssrc: 368490694 } }]);
    expect(byMid(accepted, '1').rtpParameters.encodings).toEqual([{ ssrc: 2019539886 }]);
  });

  it('chooses the first codec the router supports, in offer order', () => {
    // AV1 first (unsupported by mediasoup 3.12), then VP9 profile 0: VP9 is chosen, with its own RTX.
    const av1First = edit(CHROMIUM_VIDEO_ONLY_OFFER, 'SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100', 'SAVPF 45 46 98 99 96 97 102 103 104 107 108 109 114 115 116 117 39 40 100');
    let video = must(accept(av1First).accepted[0]).rtpParameters;
    expect(video.codecs.map((c) => [c.mimeType, c.payloadType, params(c)])).toEqual([
      ['video/VP9', 98, { 'profile-id': 0 }],
      ['video/rtx', 99, { apt: 98 }],
    ]);
    // H264 packetization-mode=0 first: skipped for the next packetization-mode=1 entry.
    const mode0First = edit(CHROMIUM_VIDEO_ONLY_OFFER, 'SAVPF 96 97 102 103 104 107', 'SAVPF 104 107 102 103 96 97');
    video = must(accept(mode0First).accepted[0]).rtpParameters;
    expect(video.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([
      ['video/H264', 102],
      ['video/rtx', 103],
    ]);
    // An unsupported H264 profile (High 4:4:4, f4001f) is skipped too.
    const f4 = crlf(['a=rtpmap:41 H264/90000', 'a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f']);
    const f4First = edit(
      edit(CHROMIUM_VIDEO_ONLY_OFFER, 'SAVPF 96 97 102 103 104 107 108 109 114 115 116 117', 'SAVPF 41 116 117 96 97 102 103 104 107 108 109 114 115'),
      'a=rtpmap:96 VP8/90000\r\n',
      `${f4}a=rtpmap:96 VP8/90000\r\n`,
    );
    video = must(accept(f4First).accepted[0]).rtpParameters;
    expect(video.codecs.map((c) => [c.mimeType, c.payloadType, params(c)['profile-level-id']])).toEqual([
      ['video/H264', 116, '4d001f'],
      ['video/rtx', 117, undefined],
    ]);
    // red/CN/telephone-event never carry the stream.
    const redFirst = edit(CHROMIUM_AUDIO_ONLY_OFFER, 'SAVPF 111 63 9 0 8 13 110 126', 'SAVPF 63 110 13 111 9 0 8 126');
    expect(must(accept(redFirst).accepted[0]).rtpParameters.codecs.map((c) => c.payloadType)).toEqual([111]);
  });

  it('accepts H264 whatever the decimal-looking profile-level-id (High 4.0 = 640028)', () => {
    const { accepted } = accept(edit(OBS_WHIP_OFFER, 'profile-level-id=42e01f', 'profile-level-id=640028'));
    expect(accepted.map((a) => a.kind)).toEqual(['audio', 'video']);
    expect(byMid(accepted, '1').rtpParameters.codecs[0]?.parameters).toEqual({ 'profile-level-id': '640028', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 });
  });

  it('Firefox: Opus + VP8 with RTX; Firefox 121 sendrecv offer too', () => {
    const { accepted } = accept(FIREFOX_WHIP_OFFER);
    const audio = byMid(accepted, '0').rtpParameters;
    expect(audio.codecs).toEqual([{ mimeType: 'audio/opus', payloadType: 109, clockRate: 48000, channels: 2, parameters: { maxplaybackrate: 48000, stereo: 1, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }]);
    expect(audio.encodings).toEqual([{ ssrc: 2342762617 }]);
    const video = byMid(accepted, '1').rtpParameters;
    expect(video.codecs.map((c) => [c.mimeType, c.payloadType, params(c)])).toEqual([
      ['video/VP8', 120, { 'max-fs': 12288, 'max-fr': 60 }],
      ['video/rtx', 124, { apt: 120 }],
    ]);
    expect(video.encodings).toEqual([{ ssrc: 1511901921, rtx: { ssrc: 2275747754 } }]);
    expect(video.rtcp?.cname).toBe('{d63a7f38-89b3-4f1e-8a87-a9d2ca411739}');

    const sendrecv = accept(FIREFOX_121_SENDRECV_OFFER).accepted;
    expect(sendrecv.map((a) => a.rtpParameters.codecs.map((c) => c.payloadType))).toEqual([[109], [120, 124]]);
    expect(byMid(sendrecv, '1').rtpParameters.encodings).toEqual([{ ssrc: 7463831, rtx: { ssrc: 2513307155 } }]);
  });

  it.each([
    ['FIREFOX_WHIP_SIMULCAST_OFFER', FIREFOX_WHIP_SIMULCAST_OFFER, [120, 124]],
    ['CHROME_SIMULCAST_OFFER', CHROME_SIMULCAST_OFFER, [96, 97]],
    ['CHROMIUM_WHIP_SIMULCAST_OFFER', CHROMIUM_WHIP_SIMULCAST_OFFER, [96, 97]],
  ])('%s: simulcast encodings are the rids in a=simulcast order (no SSRCs), with RTX and the rid extensions', (_name, sdp, payloadTypes) => {
    const { accepted } = accept(sdp);
    const video = byMid(accepted, '1').rtpParameters;
    expect(video.codecs.map((c) => c.payloadType)).toEqual(payloadTypes);
    expect(video.encodings).toEqual([{ rid: 'q' }, { rid: 'h' }, { rid: 'f' }]);
    const uris = (video.headerExtensions ?? []).map((e) => e.uri);
    expect(uris).toContain('urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id');
    expect(uris).toContain('urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id');
    expect(uris).toContain('urn:ietf:params:rtp-hdrext:sdes:mid');
    // Audio is a plain single-SSRC section.
    expect(byMid(accepted, '0').rtpParameters.encodings).toHaveLength(1);
    expect(byMid(accepted, '0').rtpParameters.encodings?.[0]?.ssrc).toEqual(expect.any(Number));
  });

  it('simulcast encodings follow a reordered a=simulcast list', () => {
    const sdp = edit(CHROMIUM_WHIP_SIMULCAST_OFFER, 'a=simulcast:send q;h;f', 'a=simulcast:send f;q;h');
    expect(byMid(accept(sdp).accepted, '1').rtpParameters.encodings).toEqual([{ rid: 'f' }, { rid: 'q' }, { rid: 'h' }]);
  });

  it('audio-only and video-only offers give one producer', () => {
    const audio = accept(CHROMIUM_AUDIO_ONLY_OFFER).accepted;
    expect(audio.map((a) => [a.media.mid, a.kind, a.rtpParameters.codecs.map((c) => c.mimeType)])).toEqual([['0', 'audio', ['audio/opus']]]);
    expect(audio[0]?.rtpParameters.encodings).toEqual([{ ssrc: 765134707 }]);
    expect(audio[0]?.rtpParameters.rtcp).toEqual({ cname: '3vV5/IzHI9Vj55hb', reducedSize: true });
    const video = accept(CHROMIUM_VIDEO_ONLY_OFFER).accepted;
    expect(video.map((a) => [a.media.mid, a.kind, a.rtpParameters.codecs.map((c) => c.mimeType)])).toEqual([['0', 'video', ['video/VP8', 'video/rtx']]]);
    expect(video[0]?.rtpParameters.encodings).toEqual([{ ssrc: 2937141570, rtx: { ssrc: 2389850751 } }]);
  });

  it('without a=ssrc and without rids, the encoding is left to MID matching', () => {
    const sdp = edit(CHROMIUM_AUDIO_ONLY_OFFER, /a=ssrc:.*\r\n/g, '');
    const audio = must(accept(sdp).accepted[0]).rtpParameters;
    expect(audio.encodings).toEqual([{}]);
    expect(audio.rtcp?.cname).toBe('whipcast-0');
  });

  it('keeps only the header extensions mediasoup supports for the kind, with the offered ids', () => {
    const { accepted } = accept(CHROMIUM_WHIP_OFFER_H264);
    expect(byMid(accepted, '0').rtpParameters.headerExtensions).toEqual([
      { uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1 },
      { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2 },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3 },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
    ]);
    // playout-delay, video-content-type, video-timing and color-space are dropped.
    expect(byMid(accepted, '1').rtpParameters.headerExtensions).toEqual([
      { uri: 'urn:ietf:params:rtp-hdrext:toffset', id: 14 },
      { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2 },
      { uri: 'urn:3gpp:video-orientation', id: 13 },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3 },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10 },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id', id: 11 },
    ]);
    // Firefox: csrc-audio-level (audio), playout-delay and the AV1 dependency descriptor (video) are dropped.
    const firefox = accept(FIREFOX_WHIP_SIMULCAST_OFFER).accepted;
    expect(byMid(firefox, '0').rtpParameters.headerExtensions?.map((e) => e.id)).toEqual([1, 3, 7]);
    expect(byMid(firefox, '1').rtpParameters.headerExtensions?.map((e) => e.id)).toEqual([3, 4, 5, 7, 9, 10]);
  });

  it.each(WHIP_FIXTURES)('%s: header extensions are exactly the offered ones mediasoup supports for the kind', (_name, sdp) => {
    const { accepted } = accept(sdp);
    for (const a of accepted) {
      const known = new Set((supported.headerExtensions ?? []).filter((e) => e.kind === a.kind).map((e) => e.uri));
      expect(a.rtpParameters.headerExtensions).toEqual(a.media.headerExtensions.filter((e) => known.has(e.uri)).map((e) => ({ uri: e.uri, id: e.id })));
    }
  });

  it('keeps only the RTCP feedback mediasoup knows; "*" applies to every payload type, without duplicates', () => {
    const extra = crlf(['a=rtcp-fb:96 ccm tmmbr', 'a=rtcp-fb:96 nack rpsi', 'a=rtcp-fb:96 x-unknown', 'a=rtcp-fb:96 rrtr']);
    const { accepted } = accept(edit(CHROMIUM_VIDEO_ONLY_OFFER, 'a=rtcp-fb:96 goog-remb\r\n', `a=rtcp-fb:96 goog-remb\r\n${extra}`));
    expect(accepted[0]?.rtpParameters.codecs[0]?.rtcpFeedback).toEqual([
      { type: 'goog-remb', parameter: '' },
      { type: 'transport-cc', parameter: '' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'nack', parameter: '' },
      { type: 'nack', parameter: 'pli' },
    ]);
    const wildcard = accept(edit(OBS_WHIP_OFFER, 'a=rtcp-fb:96 nack\r\n', 'a=rtcp-fb:* nack\r\na=rtcp-fb:* ccm fir\r\na=rtcp-fb:96 nack\r\n')).accepted;
    expect(byMid(wildcard, '1').rtpParameters.codecs[0]?.rtcpFeedback).toEqual([
      { type: 'nack', parameter: '' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'nack', parameter: 'pli' },
      { type: 'goog-remb', parameter: '' },
    ]);
    // RTX never carries feedback.
    expect(accept(CHROMIUM_VIDEO_ONLY_OFFER).accepted[0]?.rtpParameters.codecs[1]?.rtcpFeedback).toEqual([]);
  });

  it('leaves out recvonly/inactive sections and sections without a supported codec', () => {
    // Audio only PCMU/PCMA, video VP8: the video alone is accepted.
    const pcmuAudio = edit(CHROMIUM_WHIP_OFFER_VP8, 'm=audio 35449 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'm=audio 35449 UDP/TLS/RTP/SAVPF 0 8');
    expect(accept(pcmuAudio).accepted.map((a) => a.media.mid)).toEqual(['1']);
    const inactiveVideo = edit(CHROMIUM_WHIP_OFFER_VP8, 'a=sendonly\r\na=msid:3e8f7b87-641e-461a-a31a-2b8bb5063e4d eb48', 'a=inactive\r\na=msid:3e8f7b87-641e-461a-a31a-2b8bb5063e4d eb48');
    expect(accept(inactiveVideo).accepted.map((a) => a.media.mid)).toEqual(['0']);
    const recvonlyAudio = edit(CHROMIUM_WHIP_OFFER_VP8, 'a=sendonly\r\na=msid:3e8f7b87-641e-461a-a31a-2b8bb5063e4d 8b53', 'a=recvonly\r\na=msid:3e8f7b87-641e-461a-a31a-2b8bb5063e4d 8b53');
    expect(accept(recvonlyAudio).accepted.map((a) => a.media.mid)).toEqual(['1']);
    const withDataChannel = `${OBS_WHIP_OFFER}${crlf(['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=mid:2', 'a=sctp-port:5000'])}`.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2');
    const parsed = parseOffer(withDataChannel);
    expect(parsed.media.map((m) => [m.kind, isMediaSection(m)])).toEqual([
      ['audio', true],
      ['video', true],
      ['application', false],
    ]);
    expect(producerParametersFromOffer(parsed.media, supported).map((a) => a.media.mid)).toEqual(['0', '1']);
  });
});

describe('producerParametersFromOffer errors', () => {
  const noCommonCodec = (sdp: string): NoCommonCodecError => {
    const offer = parseOffer(sdp);
    let error: unknown;
    try {
      producerParametersFromOffer(offer.media, supported);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NoCommonCodecError);
    expect((error as Error).name).toBe('NoCommonCodecError');
    return error as NoCommonCodecError;
  };

  it('only H265 → NoCommonCodecError listing the offered codecs', () => {
    const h265 = crlf([
      'm=video 9 UDP/TLS/RTP/SAVPF 49 50 51',
      'c=IN IP4 0.0.0.0',
      'a=mid:0',
      'a=sendonly',
      'a=rtcp-mux',
      'a=rtpmap:49 H265/90000',
      'a=fmtp:49 level-id=180;profile-id=1;tier-flag=0;tx-mode=SRST',
      'a=rtpmap:50 rtx/90000',
      'a=fmtp:50 apt=49',
      'a=rtpmap:51 H265/90000',
      'a=fmtp:51 level-id=180;profile-id=2;tier-flag=0;tx-mode=SRST',
      'a=ssrc:1 cname:x',
    ]);
    const error = noCommonCodec(OBS_SESSION + h265);
    expect(error.offered).toEqual(['H265']);
    expect(error.message).toBe('no supported codec offered (offered: H265; supported: opus, VP8, VP9, H264 packetization-mode=1)');
  });

  it('only PCMU → NoCommonCodecError naming PCMU', () => {
    const sdp = edit(edit(CHROMIUM_AUDIO_ONLY_OFFER, 'SAVPF 111 63 9 0 8 13 110 126', 'SAVPF 0 126'), /a=rtpmap:(111|63|9|8|13|110) .*\r\n/g, '');
    const error = noCommonCodec(sdp);
    expect(error.offered).toEqual(['PCMU']);
    expect(error.message).toMatch(/^no supported codec offered \(offered: PCMU; supported: /);
  });

  it('only H264 packetization-mode=0 or mono Opus → NoCommonCodecError with profiles in the labels', () => {
    const mode0 = edit(edit(OBS_WHIP_OFFER, 'packetization-mode=1', 'packetization-mode=0'), 'a=rtpmap:111 OPUS/48000/2', 'a=rtpmap:111 OPUS/48000');
    const error = noCommonCodec(mode0);
    expect(error.offered).toEqual(['OPUS', 'H264 (42e01f)']);
    expect(error.message).toContain('offered: OPUS, H264 (42e01f);');
  });

  it('a WHEP (recvonly) offer posted for publishing → NoCommonCodecError', () => {
    for (const [, sdp] of WHEP_FIXTURES) noCommonCodec(sdp);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('writeAnswer (WHIP)', () => {
  it.each(WHIP_FIXTURES)('%s: ice-lite, passive, BUNDLE, recvonly, offered payload types, candidates; parses back', (_name, sdp) => {
    const { offer, accepted, answer, parsed } = whipAnswer(sdp);
    expect(answer.startsWith('v=0\r\n')).toBe(true);
    expect(answer.endsWith('\r\n')).toBe(true);
    expect(answer).not.toMatch(/[^\r]\n/);
    expect(parsed.icelite).toBe('ice-lite');
    expect(bundle(parsed)).toEqual(accepted.map((a) => a.media.mid));
    expect(parsed.media.map((m) => String(m.mid))).toEqual(offer.media.map((m) => m.mid));
    expect(Boolean(parsed.extmapAllowMixed)).toBe(offer.extmapAllowMixed);
    for (const a of accepted) {
      const m = answerSection(parsed, a.media.mid);
      expect(m.type).toBe(a.kind);
      expect(m.port).toBe(9);
      expect(m.protocol).toBe('UDP/TLS/RTP/SAVPF');
      expect(m.direction).toBe('recvonly');
      expect(m.setup).toBe('active');
      expect(m.iceUfrag).toBe(LOCAL.iceParameters.usernameFragment);
      expect(m.icePwd).toBe(LOCAL.iceParameters.password);
      expect(m.fingerprint).toEqual({ type: 'sha-256', hash: LOCAL.fingerprint.value });
      expect(m.rtcpMux).toBe('rtcp-mux');
      // The payload types of the answer are the offer's own, for exactly the chosen codec (and its RTX).
      const chosen = a.rtpParameters.codecs.map((c) => c.payloadType);
      expect(String(m.payloads).split(' ').map(Number)).toEqual(chosen);
      expect(m.rtp.map((r) => r.payload)).toEqual(chosen);
      for (const r of m.rtp) {
        const offered = must(a.media.codecs.find((c) => c.payloadType === r.payload));
        expect(`${a.kind}/${r.codec}`).toBe(offered.mimeType);
        expect(r.rate).toBe(offered.clockRate);
      }
      expect((m.ext ?? []).map((e) => [e.value, e.uri])).toEqual(a.rtpParameters.headerExtensions?.map((e) => [e.id, e.uri]));
      expect(m.candidates).toEqual([
        { foundation: 'udpcandidate', component: 1, transport: 'udp', priority: 1076302079, ip: '192.0.2.10', port: 40000, type: 'host' },
        { foundation: 'tcpcandidate', component: 1, transport: 'tcp', priority: 1076276479, ip: '192.0.2.10', port: 40000, type: 'host', tcptype: 'passive' },
      ]);
      expect(m.endOfCandidates).toBe('end-of-candidates');
      expect(m.ssrcs).toBeUndefined();
      expect(m.msid).toBeUndefined();
    }
    // What the writer produced is a valid offer-shaped SDP for our own parser, too.
    const back = parseOffer(answer);
    expect(back.iceUfrag).toBe(LOCAL.iceParameters.usernameFragment);
    expect(back.setup).toBe('active');
    expect(back.fingerprint).toEqual({ algorithm: 'sha-256', value: LOCAL.fingerprint.value });
  });

  it('OBS: the answer echoes Opus and H264 with their fmtp and feedback', () => {
    const { parsed } = whipAnswer(OBS_WHIP_OFFER);
    const audio = answerSection(parsed, '0');
    expect(audio.rtp).toEqual([{ payload: 111, codec: 'OPUS', rate: 48000, encoding: 2 }]);
    expect(audio.fmtp).toEqual([{ payload: 111, config: 'minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1' }]);
    const video = answerSection(parsed, '1');
    expect(video.rtp).toEqual([{ payload: 96, codec: 'H264', rate: 90000 }]);
    // The offer's fmtp, plus a start-bitrate hint for the publisher's encoder.
    expect(video.fmtp).toEqual([{ payload: 96, config: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1;x-google-start-bitrate=1500' }]);
    expect(video.rtcpFb).toEqual([
      { payload: 96, type: 'nack' },
      { payload: 96, type: 'nack', subtype: 'pli' },
      { payload: 96, type: 'goog-remb' },
    ]);
    expect(bundle(parsed)).toEqual(['0', '1']);
  });

  it('Chromium H264: H264 108 + RTX 109 (apt=108), not the offer\'s other codecs', () => {
    const { parsed } = whipAnswer(CHROMIUM_WHIP_OFFER_H264);
    const video = answerSection(parsed, '1');
    expect(String(video.payloads)).toBe('108 109');
    expect(video.rtp).toEqual([
      { payload: 108, codec: 'H264', rate: 90000 },
      { payload: 109, codec: 'rtx', rate: 90000 },
    ]);
    expect(video.fmtp).toEqual([
      { payload: 108, config: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;x-google-start-bitrate=1500' },
      { payload: 109, config: 'apt=108' },
    ]);
    expect(video.rtcpFb?.every((fb) => fb.payload === 108)).toBe(true);
  });

  it('a=setup:active (we are the DTLS client) when the offer is actpass or passive, passive when it is active', () => {
    expect(whipAnswer(CHROMIUM_WHIP_OFFER_H264).parsed.media.map((m) => m.setup)).toEqual(['active', 'active']);
    const passive = whipAnswer(edit(CHROMIUM_WHIP_OFFER_H264, /a=setup:actpass/g, 'a=setup:passive'));
    expect(answerSetup(passive.offer)).toBe('active');
    expect(passive.parsed.media.map((m) => m.setup)).toEqual(['active', 'active']);
    const active = whipAnswer(edit(OBS_WHIP_OFFER, 'a=setup:actpass', 'a=setup:active'));
    expect(active.parsed.media.map((m) => m.setup)).toEqual(['passive', 'passive']);
  });

  it.each([
    ['FIREFOX_WHIP_SIMULCAST_OFFER', FIREFOX_WHIP_SIMULCAST_OFFER],
    ['CHROME_SIMULCAST_OFFER', CHROME_SIMULCAST_OFFER],
    ['CHROMIUM_WHIP_SIMULCAST_OFFER', CHROMIUM_WHIP_SIMULCAST_OFFER],
  ])('%s: a=rid recv and a=simulcast:recv in the offer\'s order', (_name, sdp) => {
    const { answer, parsed } = whipAnswer(sdp);
    const video = answerSection(parsed, '1');
    expect(video.rids).toEqual([
      { id: 'q', direction: 'recv' },
      { id: 'h', direction: 'recv' },
      { id: 'f', direction: 'recv' },
    ]);
    expect(video.simulcast).toEqual({ dir1: 'recv', list1: 'q;h;f' });
    expect(answer).toContain('a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n');
    expect(answerSection(parsed, '0').rids).toBeUndefined();
    expect(answerSection(parsed, '0').simulcast).toBeUndefined();
  });

  it('rejects what it cannot take: port 0, one offered format, inactive, out of BUNDLE', () => {
    // Audio offers only PCMU/PCMA: rejected, video accepted; a data channel: rejected.
    const sdp = `${edit(CHROMIUM_WHIP_OFFER_VP8, 'm=audio 35449 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'm=audio 35449 UDP/TLS/RTP/SAVPF 0 8')}${crlf([
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'c=IN IP4 0.0.0.0',
      'a=mid:2',
      'a=sctp-port:5000',
    ])}`;
    const { answer, parsed } = whipAnswer(sdp);
    expect(bundle(parsed)).toEqual(['1']);
    const audio = answerSection(parsed, '0');
    expect(audio).toMatchObject({ type: 'audio', port: 0, protocol: 'UDP/TLS/RTP/SAVPF', payloads: 0, direction: 'inactive' });
    expect(audio.rtp).toEqual([{ payload: 0, codec: 'PCMU', rate: 8000 }]);
    expect(audio.iceUfrag).toBeUndefined();
    expect(audio.candidates).toBeUndefined();
    const data = answerSection(parsed, '2');
    expect(data).toMatchObject({ type: 'application', port: 0, protocol: 'UDP/DTLS/SCTP', payloads: 'webrtc-datachannel', direction: 'inactive' });
    expect(answer).toContain('m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n');
    expect(answer).toContain('m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n');
    expect(answerSection(parsed, '1')).toMatchObject({ port: 9, direction: 'recvonly', payloads: '96 97' });
  });

  it('a rejected Opus section keeps its channel count', () => {
    const { offer, accepted } = accept(CHROMIUM_WHIP_OFFER_VP8);
    const parsed = sdpTransform.parse(writeAnswer(offer, LOCAL, [undefined, ...receiveSections(offer, accepted).slice(1)]));
    expect(answerSection(parsed, '0')).toMatchObject({ port: 0, payloads: 111, rtp: [{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }] });
    expect(bundle(parsed)).toEqual(['1']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('planViewer + matchViewerCodec (WHEP)', () => {
  const chromium = parseOffer(CHROMIUM_WHEP_OFFER);
  const chrome = parseOffer(CHROME_WHEP_OFFER);
  const firefox = parseOffer(FIREFOX_WHEP_OFFER);

  it('Chromium WHEP: H264 42e01f (stream pt 102) → the viewer\'s 108, Opus → 111', () => {
    const plan = planViewer(chromium, [track(H264_42E01F, 0), track(OPUS, 1)]);
    expect(plan.matches.map(({ trackIndex, match }) => [trackIndex, match.media.mid, match.payloadType, match.rtxPayloadType])).toEqual([
      [0, '1', 108, 109],
      [1, '0', 111, undefined],
    ]);
    expect(plan.payloadKey).toBe('108,111');
  });

  it('Chrome WHEP (video first): H264 42e01f → 109, High 64001f → 119, Opus → 111', () => {
    expect(planViewer(chrome, [track(H264_42E01F), track(OPUS, 1)]).matches.map(({ match }) => [match.media.mid, match.payloadType, match.rtxPayloadType])).toEqual([
      ['0', 109, 114],
      ['1', 111, undefined],
    ]);
    const high = planViewer(chrome, [track(H264_HIGH)]);
    expect(high.matches.map(({ match }) => [match.media.mid, match.payloadType, match.rtxPayloadType])).toEqual([['0', 119, 120]]);
    expect(high.payloadKey).toBe('119');
  });

  it('H264 falls back to the first packetization-mode=1 entry when the profile is not offered', () => {
    // Chromium's WHEP offer has no High profile: its first packetization-mode=1 H264 is 102 (42001f).
    const plan = planViewer(chromium, [track(H264_HIGH), track(OPUS, 1)]);
    expect(plan.matches.map(({ match }) => [match.media.mid, match.payloadType, match.rtxPayloadType])).toEqual([
      ['1', 102, 103],
      ['0', 111, undefined],
    ]);
    // The consumer still declares the stream's own profile (mediasoup matches H264 profiles exactly).
    expect(must(plan.matches[0]).match.capabilities.codecs?.[0]).toMatchObject({ mimeType: 'video/H264', preferredPayloadType: 102, parameters: { 'profile-level-id': '64001f' } });
    // Same profile offered with packetization-mode 0 and 1 (Firefox 121): the mode-1 entry (126, not 97).
    const firefox121 = parseOffer(FIREFOX_121_SENDRECV_OFFER);
    expect(planViewer(firefox121, [track(H264_42E01F)]).matches.map(({ match }) => [match.payloadType, match.rtxPayloadType])).toEqual([[126, 127]]);
    // Only packetization-mode=0 offered: no match.
    const video = must(parseOffer(edit(CHROMIUM_WHEP_OFFER, /packetization-mode=1/g, 'packetization-mode=0')).media[1]);
    expect(isMediaSection(video) && matchViewerCodec(video, H264_42E01F)).toBeUndefined();
  });

  it('VP8 and VP9 (by profile-id) are matched with the viewer\'s payload types', () => {
    expect(planViewer(firefox, [track(VP8), track(OPUS, 1)]).matches.map(({ match }) => [match.media.mid, match.payloadType, match.rtxPayloadType])).toEqual([
      ['1', 120, 124],
      ['0', 109, undefined],
    ]);
    expect(planViewer(chromium, [track(VP9_2)]).matches.map(({ match }) => [match.payloadType, match.rtxPayloadType])).toEqual([[100, 101]]);
    expect(planViewer(chromium, [track({ ...VP9_2, parameters: { 'profile-id': 0 } })]).matches.map(({ match }) => match.payloadType)).toEqual([98]);
  });

  it('Firefox WHEP (no H264) for an H264 + Opus stream: audio only, the video track is left out', () => {
    const plan = planViewer(firefox, [track(H264_42E01F), track(OPUS, 1)]);
    expect(plan.matches.map(({ trackIndex, match }) => [trackIndex, match.media.mid, match.payloadType])).toEqual([[1, '0', 109]]);
    expect(plan.payloadKey).toBe('-,109');
  });

  it('a VP8-only viewer for an H264 stream → NoCommonCodecError', () => {
    // Firefox's WHEP offer with its video section cut down to VP8 and without audio.
    const section = crlf([
      'm=video 9 UDP/TLS/RTP/SAVPF 120 124',
      'c=IN IP4 0.0.0.0',
      'a=recvonly',
      'a=ice-pwd:89ee8df85337765f4e5f70a02861544d',
      'a=ice-ufrag:67829d76',
      'a=mid:1',
      'a=rtcp-mux',
      'a=rtpmap:120 VP8/90000',
      'a=rtpmap:124 rtx/90000',
      'a=fmtp:124 apt=120',
      'a=rtcp-fb:120 nack pli',
      'a=setup:actpass',
    ]);
    const vp8Only = edit(replaceSection(FIREFOX_WHEP_OFFER, 1, section), /m=audio[\s\S]*?(?=m=video)/, '');
    const offer = parseOffer(vp8Only);
    expect(offer.media.map((m) => [m.mid, m.codecs.map((c) => c.mimeType)])).toEqual([['1', ['video/VP8', 'video/rtx']]]);
    let error: unknown;
    try {
      planViewer(offer, [track(H264_42E01F), track(OPUS, 1)]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NoCommonCodecError);
    expect((error as Error).message).toBe('the offer cannot receive this stream (stream sends video/H264 + audio/opus; offer receives video/VP8, video/rtx)');
    // The real Firefox WHEP offer, for a video-only H264 stream.
    expect(() => planViewer(firefox, [track(H264_42E01F)])).toThrow(NoCommonCodecError);
  });

  it('an offer with nothing to receive (a WHIP offer sent to WHEP) → NoCommonCodecError', () => {
    expect(() => planViewer(parseOffer(CHROMIUM_WHIP_OFFER_H264), [track(H264_42E01F), track(OPUS, 1)])).toThrow(NoCommonCodecError);
    expect(() => planViewer(chromium, [])).toThrow(NoCommonCodecError);
  });

  it('each section takes one track: two video tracks, one video section', () => {
    const plan = planViewer(chromium, [track(VP8, 0), track(H264_42E01F, 1)]);
    expect(plan.matches.map(({ trackIndex, match }) => [trackIndex, match.media.mid, match.payloadType])).toEqual([[0, '1', 96]]);
    expect(plan.payloadKey).toBe('96,-');
  });

  it('capabilities: the stream codec and its RTX under the viewer\'s payload types', () => {
    const { match } = must(planViewer(chromium, [track(H264_42E01F)]).matches[0]);
    const withRtx = match.capabilities;
    expect(withRtx.codecs).toEqual([
      {
        kind: 'video',
        mimeType: 'video/H264',
        clockRate: 90000,
        preferredPayloadType: 108,
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
        rtcpFeedback: [
          { type: 'goog-remb', parameter: '' },
          { type: 'transport-cc', parameter: '' },
          { type: 'ccm', parameter: 'fir' },
          { type: 'nack', parameter: '' },
          { type: 'nack', parameter: 'pli' },
        ],
      },
      { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 109, parameters: { apt: 108 }, rtcpFeedback: [] },
    ]);
    expect(withRtx.headerExtensions?.map((e) => [e.kind, e.preferredId, e.uri])).toEqual(must(chromium.media[1]).headerExtensions.map((e) => ['video', e.id, e.uri]));
    expect(() => ortc.validateRtpCapabilities(withRtx)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------------------------------

/**
 * What Room + WebRtcViewer do, minus the worker: a router numbered with the viewer's payload types, the publisher's
 * producers on it, one consumer per planned track, and the WHEP answer.
 */
function simulateViewer(
  viewerSdp: string,
  accepted: AcceptedSendMedia[],
): { viewer: ParsedOffer; consumers: { mid: string; payloadType: number; rtp: ms.RtpParameters }[]; parsed: sdpTransform.SessionDescription } {
  const viewer = parseOffer(viewerSdp);
  const tracks = tracksOf(accepted);
  const plan = planViewer(viewer, tracks);
  const routerCaps = ortc.generateRouterRtpCapabilities(
    streamRouterCodecs(plan.matches.map(({ trackIndex, match }) => ({ kind: must(tracks[trackIndex]).kind, codec: must(tracks[trackIndex]).codec, payloadType: match.payloadType }))),
  );
  const sections: AnswerSection[] = viewer.media.map(() => undefined);
  const consumers = plan.matches.map(({ trackIndex, match }) => {
    const producer = structuredClone(must(accepted[trackIndex]).rtpParameters);
    ortc.validateRtpParameters(producer);
    const mapping = ortc.getProducerRtpParametersMapping(producer, routerCaps);
    const consumable = ortc.getConsumableRtpParameters(must(tracks[trackIndex]).kind, producer, routerCaps, mapping);
    const capabilities = match.capabilities;
    expect(ortc.canConsume(consumable, capabilities)).toBe(true);
    const rtp = ortc.getConsumerRtpParameters({ consumableRtpParameters: consumable, remoteRtpCapabilities: capabilities, pipe: false, enableRtx: true });
    sections[match.media.index] = { direction: 'sendonly', rtpParameters: rtp, streamId: 'stream-id', trackId: `track-${trackIndex}` };
    return { mid: match.media.mid, payloadType: match.payloadType, rtp };
  });
  return { viewer, consumers, parsed: sdpTransform.parse(writeAnswer(viewer, LOCAL, sections)) };
}

describe('mediasoup accepts the translation (its ORTC checks, no worker)', () => {
  it('the router codecs are valid', () => {
    const caps = ortc.generateRouterRtpCapabilities(routerMediaCodecs);
    expect(caps.codecs?.filter((c) => !/rtx$/.test(c.mimeType)).map((c) => c.mimeType)).toEqual(['audio/opus', 'video/VP8', 'video/VP9', 'video/VP9', 'video/H264', 'video/H264', 'video/H264', 'video/H264', 'video/H264']);
  });

  it.each(WHIP_FIXTURES)('%s: producer parameters map onto a router built from the stream (as Room does)', (_name, sdp) => {
    const { accepted } = accept(sdp);
    const routerCaps = ortc.generateRouterRtpCapabilities(streamRouterCodecs(tracksOf(accepted).map((t) => ({ kind: t.kind, codec: t.codec, payloadType: t.codec.payloadType }))));
    for (const a of accepted) {
      const producer = structuredClone(a.rtpParameters);
      ortc.validateRtpParameters(producer);
      const mapping = ortc.getProducerRtpParametersMapping(producer, routerCaps);
      expect(mapping.codecs[0]).toEqual({ payloadType: a.rtpParameters.codecs[0]?.payloadType, mappedPayloadType: a.rtpParameters.codecs[0]?.payloadType });
      expect(mapping.encodings).toHaveLength(a.rtpParameters.encodings?.length ?? 0);
    }
  });

  it('a decimal-looking H264 profile-level-id (640028) is one mediasoup can produce', () => {
    const { accepted } = accept(edit(OBS_WHIP_OFFER, 'profile-level-id=42e01f', 'profile-level-id=640028'));
    const video = byMid(accepted, '1');
    const routerCaps = ortc.generateRouterRtpCapabilities(streamRouterCodecs([{ kind: 'video', codec: must(video.rtpParameters.codecs[0]), payloadType: 96 }]));
    expect(() => ortc.getProducerRtpParametersMapping(structuredClone(video.rtpParameters), routerCaps)).not.toThrow();
  });

  it.each([
    ['OBS → Chromium WHEP', OBS_WHIP_OFFER, CHROMIUM_WHEP_OFFER, [['0', 111], ['1', 108]]],
    ['OBS → Chrome WHEP', OBS_WHIP_OFFER, CHROME_WHEP_OFFER, [['1', 111], ['0', 109]]],
    ['OBS → Firefox WHEP (audio only)', OBS_WHIP_OFFER, FIREFOX_WHEP_OFFER, [['0', 109]]],
    ['Chromium VP8 → Firefox WHEP', CHROMIUM_WHIP_OFFER_VP8, FIREFOX_WHEP_OFFER, [['0', 109], ['1', 120]]],
    ['Chromium H264 → Chrome WHEP', CHROMIUM_WHIP_OFFER_H264, CHROME_WHEP_OFFER, [['1', 111], ['0', 109]]],
    ['Firefox simulcast → Chromium WHEP', FIREFOX_WHIP_SIMULCAST_OFFER, CHROMIUM_WHEP_OFFER, [['0', 111], ['1', 96]]],
    [
      'Chrome, H264 High first → Chromium WHEP (no High: falls back to 102)',
      edit(CHROME_WHIP_OFFER, 'SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113', 'SAVPF 112 113 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101'),
      CHROMIUM_WHEP_OFFER,
      [['1', 102], ['0', 111]],
    ],
  ] as const)('%s: consumers send with the viewer\'s payload types; the answer says so', (_name, whip, whep, expected) => {
    const { accepted } = accept(whip);
    const { viewer, consumers, parsed } = simulateViewer(whep, accepted);
    expect(consumers.map((c) => [c.mid, c.rtp.codecs[0]?.payloadType])).toEqual(expected);
    const served = new Set(consumers.map((c) => c.mid));
    expect(parsed.icelite).toBe('ice-lite');
    expect(bundle(parsed)).toEqual(viewer.media.filter((m) => served.has(m.mid)).map((m) => m.mid));
    for (const m of viewer.media) {
      const section = answerSection(parsed, m.mid);
      const consumer = consumers.find((c) => c.mid === m.mid);
      if (!consumer) {
        expect(section).toMatchObject({ port: 0, direction: 'inactive' });
        continue;
      }
      expect(section).toMatchObject({ port: 9, direction: 'sendonly', setup: 'active' });
      expect(String(section.payloads)).toBe(consumer.rtp.codecs.map((c) => c.payloadType).join(' '));
      expect(section.msid).toEqual([{ id: 'stream-id', appdata: expect.stringMatching(/^track-\d$/) as unknown }]);
      // The codec and fmtp written are the viewer's own for that payload type (read from its offer's text).
      const pt = consumer.payloadType;
      const rtpmap = must(new RegExp(`^a=rtpmap:${pt} ([^/]+)/`, 'm').exec(whep))[1];
      expect(must(section.rtp[0]).codec).toBe(rtpmap);
      const offeredFmtp = new RegExp(`^a=fmtp:${pt} (.*)\r$`, 'm').exec(whep)?.[1];
      expect(section.fmtp.find((f) => f.payload === pt)?.config).toBe(offeredFmtp);
      const ssrc = must(consumer.rtp.encodings?.[0]?.ssrc);
      expect(section.ssrcs?.filter((s) => s.id === ssrc).map((s) => s.attribute)).toEqual(['cname', 'msid']);
      // RTX goes out under the viewer's own RTX payload type, whatever the router's is.
      const viewerRtx = m.codecs.find((c) => c.mimeType.toLowerCase().endsWith('/rtx') && Number(c.parameters.apt) === pt);
      const consumerRtx = consumer.rtp.codecs.find((c) => c.mimeType.toLowerCase().endsWith('/rtx'));
      expect(consumerRtx?.payloadType).toBe(viewerRtx?.payloadType);
      if (viewerRtx) expect(section.ssrcGroups?.[0]).toMatchObject({ semantics: 'FID', ssrcs: `${ssrc} ${must(consumer.rtp.encodings?.[0]?.rtx?.ssrc)}` });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('writeIceFragment', () => {
  it('new credentials, BUNDLE, one m= line with the first mid, candidates and end-of-candidates', () => {
    expect(writeIceFragment(LOCAL, ['0', '1'])).toBe(
      crlf([
        'a=ice-lite',
        'a=ice-ufrag:srvufrag1234',
        'a=ice-pwd:srvpassword0123456789abcd',
        'a=group:BUNDLE 0 1',
        'm=audio 9 UDP/TLS/RTP/SAVPF 0',
        'a=mid:0',
        'a=candidate:udpcandidate 1 udp 1076302079 192.0.2.10 40000 typ host',
        'a=candidate:tcpcandidate 1 tcp 1076276479 192.0.2.10 40000 typ host tcptype passive',
        'a=end-of-candidates',
      ]),
    );
  });

  it('without mids: credentials only', () => {
    expect(writeIceFragment(LOCAL, [])).toBe(crlf(['a=ice-lite', 'a=ice-ufrag:srvufrag1234', 'a=ice-pwd:srvpassword0123456789abcd']));
  });

  it('its candidate lines are the ones the answer carries', () => {
    const fragment = writeIceFragment(LOCAL, ['0']);
    const { answer } = whipAnswer(CHROMIUM_AUDIO_ONLY_OFFER);
    const candidates = (text: string): string[] => text.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
    expect(candidates(fragment)).toEqual(candidates(answer));
  });
});
