// Parses a WHIP/WHEP SDP offer (via sdp-transform) into the plain, validated shape the rest of sfu/ uses.
// Everything a client can get wrong is reported as an SdpError with a reason a human can act on.
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription } from 'sdp-transform';
import { SdpError } from '../errors.js';
import type { TrackKind } from '../tracks.js';

export interface OfferedCodec {
  payloadType: number;
  mimeType: string; // e.g. 'video/H264'
  clockRate: number;
  channels?: number;
  parameters: Record<string, string | number>;
  rtcpFeedback: { type: string; parameter: string }[];
}

export interface OfferedHeaderExtension {
  uri: string;
  id: number;
  /** The offerer's direction for this extension, if it gave one (e.g. Firefox's "/sendonly" rid extensions). */
  direction?: string;
}

export interface OfferedSsrcs {
  /** Media SSRCs in the order of the offer (one, or several for SIM-group simulcast). */
  media: number[];
  /** RTX SSRC for a media SSRC (from a=ssrc-group:FID). */
  rtx: Map<number, number>;
  cname?: string;
}

export interface OfferedMedia {
  index: number;
  mid: string;
  kind: TrackKind | 'application' | 'other';
  /** Raw m-line type, echoed when rejecting. */
  type: string;
  protocol: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  codecs: OfferedCodec[];
  headerExtensions: OfferedHeaderExtension[];
  ssrcs: OfferedSsrcs;
  /** Simulcast rids in the order of the a=simulcast send list (or of the a=rid lines). */
  rids: string[];
  firstPayload: string;
}

export interface ParsedOffer {
  iceUfrag: string;
  icePwd: string;
  fingerprint: { algorithm: string; value: string };
  /** The offerer's DTLS setup role: actpass/passive means we answer active (see answerSetup). */
  setup: 'actpass' | 'active' | 'passive';
  extmapAllowMixed: boolean;
  media: OfferedMedia[];
}

const KNOWN_FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc']);

export function parseOffer(text: string): ParsedOffer {
  if (text.trim().length === 0) throw new SdpError('empty SDP offer');
  if (!/^v=0\r?\n/.test(text)) throw new SdpError('malformed SDP: it must start with "v=0"');
  let session: sdpTransform.SessionDescription;
  try {
    session = sdpTransform.parse(text);
  } catch (error) {
    throw new SdpError(`malformed SDP: ${(error as Error).message}`);
  }
  const media = session.media ?? [];
  if (media.length === 0) throw new SdpError('SDP offer has no m= section');

  const first = media[0];
  // String(): sdp-transform turns any all-digit value into a number (a Firefox ufrag is 8 hex digits, sometimes all
  // decimal); String() gives back the exact text, since only canonical decimals are converted.
  const iceUfrag = optionalString(first?.iceUfrag ?? session.iceUfrag);
  const icePwd = optionalString(first?.icePwd ?? session.icePwd);
  if (!iceUfrag || !icePwd) throw new SdpError('SDP offer has no a=ice-ufrag/a=ice-pwd');
  const fingerprint = first?.fingerprint ?? session.fingerprint;
  if (!fingerprint) throw new SdpError('SDP offer has no a=fingerprint (DTLS is required)');
  const setupRaw = first?.setup ?? session.setup ?? 'actpass';
  if (setupRaw !== 'actpass' && setupRaw !== 'active' && setupRaw !== 'passive') {
    throw new SdpError(`SDP offer has an invalid a=setup:${setupRaw}`);
  }
  const sessionAttrs = session as { extmapAllowMixed?: unknown };

  const mids = new Set<string>();
  const parsed = media.map((m, index) => {
    const one = parseMedia(m, index);
    if (mids.has(one.mid)) throw new SdpError(`SDP offer repeats a=mid:${one.mid}`);
    mids.add(one.mid);
    return one;
  });

  return {
    iceUfrag,
    icePwd,
    fingerprint: { algorithm: fingerprint.type.toLowerCase(), value: fingerprint.hash.toUpperCase() },
    setup: setupRaw,
    extmapAllowMixed: sessionAttrs.extmapAllowMixed !== undefined || media.some((m) => (m as { extmapAllowMixed?: unknown }).extmapAllowMixed !== undefined),
    media: parsed,
  };
}

function parseMedia(m: MediaDescription, index: number): OfferedMedia {
  const mid = m.mid === undefined ? undefined : String(m.mid);
  if (mid === undefined || mid === '') throw new SdpError(`m= section ${index} (${m.type}) has no a=mid`);
  const kind = m.type === 'audio' || m.type === 'video' || m.type === 'application' ? m.type : 'other';
  const direction = m.direction ?? 'sendrecv';

  const fmtp = new Map<number, Record<string, string | number>>();
  for (const f of m.fmtp ?? []) {
    const params = sdpTransform.parseParams(f.config) as Record<string, string | number>;
    // profile-level-id is hex: an all-digit one ("640028", High 4.0 as FFmpeg writes it) must not become a number,
    // which h264-profile-level-id (ours and mediasoup's) rejects as no profile at all.
    const profileLevelId = params['profile-level-id'];
    if (typeof profileLevelId === 'number') params['profile-level-id'] = String(profileLevelId);
    fmtp.set(f.payload, params);
  }
  const feedback = new Map<number, { type: string; parameter: string }[]>();
  for (const fb of m.rtcpFb ?? []) {
    const key = `${fb.type}${fb.subtype ? ` ${fb.subtype}` : ''}`;
    if (!KNOWN_FEEDBACK.has(key)) continue;
    const targets = String(fb.payload) === '*' ? (m.rtp ?? []).map((r) => r.payload) : [Number(fb.payload)];
    for (const pt of targets) {
      const list = feedback.get(pt) ?? [];
      if (!list.some((x) => x.type === fb.type && x.parameter === (fb.subtype ?? ''))) list.push({ type: fb.type, parameter: fb.subtype ?? '' });
      feedback.set(pt, list);
    }
  }

  // The m= line's format list is the offerer's preference order (RFC 3264 §5.1) and says which formats are offered;
  // the a=rtpmap lines may come in another order and may describe formats the m= line does not list.
  const formats = String(m.payloads ?? '').split(' ').map(Number);
  const codecs: OfferedCodec[] = (m.rtp ?? []).filter((r) => formats.includes(r.payload)).sort((a, b) => formats.indexOf(a.payload) - formats.indexOf(b.payload)).map((r) => {
    const codec: OfferedCodec = {
      payloadType: r.payload,
      mimeType: `${m.type}/${r.codec}`,
      clockRate: r.rate ?? 90000,
      parameters: fmtp.get(r.payload) ?? {},
      rtcpFeedback: feedback.get(r.payload) ?? [],
    };
    if (m.type === 'audio') codec.channels = r.encoding ? Number(r.encoding) : 1;
    return codec;
  });

  return {
    index,
    mid,
    kind,
    type: m.type,
    protocol: m.protocol,
    direction,
    codecs,
    headerExtensions: (m.ext ?? []).map((e) => ({ uri: e.uri, id: e.value, ...(e.direction ? { direction: e.direction } : {}) })),
    ssrcs: parseSsrcs(m),
    rids: parseRids(m),
    firstPayload: String(m.payloads ?? '').split(' ')[0] ?? '0',
  };
}

function parseSsrcs(m: MediaDescription): OfferedSsrcs {
  const all: number[] = [];
  let cname: string | undefined;
  for (const line of m.ssrcs ?? []) {
    const id = Number(line.id);
    if (!all.includes(id)) all.push(id);
    if (line.attribute === 'cname' && cname === undefined) cname = String(line.value);
  }
  const rtx = new Map<number, number>();
  let sim: number[] | undefined;
  for (const group of m.ssrcGroups ?? []) {
    const ids = String(group.ssrcs).split(/\s+/).map(Number); // a one-SSRC group is parsed as a number
    if (group.semantics === 'FID' && ids.length === 2) rtx.set(ids[0] as number, ids[1] as number);
    if (group.semantics === 'SIM') sim = ids;
  }
  const rtxSsrcs = new Set(rtx.values());
  const media = sim ?? all.filter((id) => !rtxSsrcs.has(id));
  return { media: sim ? media : media.slice(0, 1), rtx, ...(cname === undefined ? {} : { cname }) };
}

function parseRids(m: MediaDescription): string[] {
  const sendRids = (m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id));
  if (sendRids.length === 0) return [];
  // RFC 8853 form "a=simulcast:send q;h;f" and the draft-03 form some older clients use ("send rid=q;h;f").
  // Alternatives ("q,x") keep their first choice; a "~" (paused) prefix is dropped.
  // String(): a single all-digit rid ("a=simulcast:send 1") is parsed as a number. Draft-03 may add " paused=...".
  const list = m.simulcast?.dir1 === 'send' ? String(m.simulcast.list1) : /(?:^|\s)send\s+rid=(\S+)/.exec(m.simulcast_03?.value ?? '')?.[1];
  if (!list) return sendRids;
  const ordered = list
    .split(';')
    .map((alt) => (alt.split(',')[0] ?? '').replace(/^~/, '').trim())
    .filter((rid) => sendRids.includes(rid));
  return ordered.length > 0 ? ordered : sendRids;
}

function optionalString(value: string | number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}
