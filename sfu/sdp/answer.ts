// Writes SDP answers (and ICE-restart fragments) from what mediasoup created. One writer serves WHIP and
// WHEP: a section either receives (a producer), sends (a consumer) or is rejected.
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import type { types as ms } from 'mediasoup';
import { paramsOf } from '../tracks.js';
import type { OfferedMedia, ParsedOffer } from './offer.js';

export interface LocalIce {
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  fingerprint: ms.DtlsFingerprint;
}

export interface ReceiveSection {
  direction: 'recvonly';
  rtpParameters: ms.RtpParameters;
  rids: string[];
}

export interface SendSection {
  direction: 'sendonly';
  rtpParameters: ms.RtpParameters;
  /** msid stream id shared by a viewer's audio and video, so the browser puts them in one MediaStream. */
  streamId: string;
  trackId: string;
}

export type AnswerSection = ReceiveSection | SendSection | undefined;

/**
 * The DTLS role we take: the client ("active") unless the offerer insists on being one. As the client, mediasoup
 * sends its ClientHello the moment ICE is up, instead of waiting for the browser's: the handshake starts sooner.
 */
export function answerSetup(offer: ParsedOffer): 'passive' | 'active' {
  return offer.setup === 'active' ? 'passive' : 'active';
}

export function writeAnswer(offer: ParsedOffer, local: LocalIce, sections: AnswerSection[]): string {
  const setup = answerSetup(offer);
  const bundled = offer.media.filter((_, i) => sections[i] !== undefined).map((m) => m.mid);
  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: String(Date.now()), sessionVersion: 2, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: bundled.join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media: offer.media.map((m, i) => {
      const section = sections[i];
      return section === undefined ? rejected(m) : accepted(m, section, local, setup);
    }),
  };
  if (offer.extmapAllowMixed) (session as { extmapAllowMixed?: string }).extmapAllowMixed = 'extmap-allow-mixed';
  return sdpTransform.write(session);
}

/** The body of a 200 answer to an ICE-restart PATCH (RFC 9725 §4.3.2): new credentials and our candidates. */
export function writeIceFragment(local: LocalIce, mids: string[]): string {
  const lines = ['a=ice-lite', `a=ice-ufrag:${local.iceParameters.usernameFragment}`, `a=ice-pwd:${local.iceParameters.password}`];
  const firstMid = mids[0];
  if (firstMid !== undefined) {
    lines.push(`a=group:BUNDLE ${mids.join(' ')}`, 'm=audio 9 UDP/TLS/RTP/SAVPF 0', `a=mid:${firstMid}`);
    lines.push(...local.iceCandidates.map((c) => `a=${candidateLine(c)}`), 'a=end-of-candidates');
  }
  return `${lines.join('\r\n')}\r\n`;
}

// A rejected section keeps one of the offered formats (RFC 3264 §6 wants at least one; strict parsers too).
function rejected(m: OfferedMedia): MediaDescription {
  const first = m.codecs[0];
  const rtp = first ? [{ payload: first.payloadType, codec: first.mimeType.split('/')[1] ?? '', rate: first.clockRate, ...(first.channels && first.channels > 1 ? { encoding: first.channels } : {}) }] : [];
  return { type: m.type, port: 0, protocol: m.protocol, payloads: first ? String(first.payloadType) : m.firstPayload, mid: m.mid, direction: 'inactive', rtp, fmtp: [] };
}

function accepted(m: OfferedMedia, section: ReceiveSection | SendSection, local: LocalIce, setup: 'passive' | 'active'): MediaDescription {
  const codecs = section.rtpParameters.codecs;
  const offeredFmtp = new Map(m.codecs.map((c) => [c.payloadType, c.parameters]));
  const media: MediaDescription = {
    type: m.type,
    port: 9,
    protocol: 'UDP/TLS/RTP/SAVPF',
    payloads: codecs.map((c) => c.payloadType).join(' '),
    connection: { version: 4, ip: '0.0.0.0' },
    mid: m.mid,
    direction: section.direction,
    iceUfrag: local.iceParameters.usernameFragment,
    icePwd: local.iceParameters.password,
    fingerprint: { type: local.fingerprint.algorithm, hash: local.fingerprint.value },
    setup,
    rtcpMux: 'rtcp-mux',
    rtcpRsize: 'rtcp-rsize',
    candidates: local.iceCandidates.map(toCandidate),
    endOfCandidates: 'end-of-candidates',
    rtp: codecs.map((c) => ({
      payload: c.payloadType,
      codec: c.mimeType.split('/')[1] ?? c.mimeType,
      rate: c.clockRate,
      ...(c.channels !== undefined && c.channels > 1 ? { encoding: c.channels } : {}),
    })),
    fmtp: codecs
      .map((c) => ({ payload: c.payloadType, config: formatParams(section.direction === 'sendonly' ? (offeredFmtp.get(c.payloadType) ?? paramsOf(c)) : { ...paramsOf(c), ...publisherHints(c) }) }))
      .filter((f) => f.config.length > 0),
    rtcpFb: codecs.flatMap((c) =>
      (c.rtcpFeedback ?? []).map((fb) => ({ payload: c.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) })),
    ),
    // RFC 8285: an extension the offerer only sends is one we only receive (and the reverse).
    ext: section.rtpParameters.headerExtensions?.map((e) => {
      const offered = m.headerExtensions.find((o) => o.id === e.id)?.direction;
      const direction = offered === 'sendonly' ? 'recvonly' : offered === 'recvonly' ? 'sendonly' : undefined;
      return { value: e.id, uri: e.uri, ...(direction ? { direction } : {}) };
    }) ?? [],
  };

  if (section.direction === 'recvonly' && section.rids.length > 0) {
    media.rids = section.rids.map((id) => ({ id, direction: 'recv' }));
    media.simulcast = { dir1: 'recv', list1: section.rids.join(';') };
  }
  if (section.direction === 'sendonly') {
    const encoding = section.rtpParameters.encodings?.[0];
    const cname = section.rtpParameters.rtcp?.cname ?? 'whipcast';
    media.msid = [{ id: section.streamId, appdata: section.trackId }];
    if (encoding?.ssrc !== undefined) {
      const ssrcs = [encoding.ssrc, ...(encoding.rtx?.ssrc === undefined ? [] : [encoding.rtx.ssrc])];
      media.ssrcs = ssrcs.flatMap((id) => [
        { id, attribute: 'cname', value: cname },
        { id, attribute: 'msid', value: `${section.streamId} ${section.trackId}` },
      ]);
      if (ssrcs.length === 2) media.ssrcGroups = [{ semantics: 'FID', ssrcs: ssrcs.join(' ') }];
    }
  }
  return media;
}

// Chrome starts a publisher's bandwidth estimate at 300 kbps and may take half a minute to send every simulcast
// layer; this hint (ignored by other clients) starts it where a stream needs to be.
function publisherHints(codec: ms.RtpCodecParameters): Record<string, number> {
  return codec.mimeType.toLowerCase().startsWith('video/') && !/\/rtx$/i.test(codec.mimeType) ? { 'x-google-start-bitrate': PUBLISHER_START_KBPS } : {};
}

/** x-google-start-bitrate given to WHIP publishers (kbit/s). */
export const PUBLISHER_START_KBPS = 1500;

function formatParams(params: Record<string, unknown> | undefined): string {
  return Object.entries(params ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(';');
}

function toCandidate(c: ms.IceCandidate): NonNullable<MediaDescription['candidates']>[number] {
  return {
    foundation: c.foundation,
    component: 1,
    transport: c.protocol,
    priority: c.priority,
    ip: c.ip,
    port: c.port,
    type: c.type,
    ...(c.tcpType ? { tcptype: c.tcpType } : {}),
  };
}

function candidateLine(c: ms.IceCandidate): string {
  const tcp = c.tcpType ? ` tcptype ${c.tcpType}` : '';
  return `candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${tcp}`;
}
