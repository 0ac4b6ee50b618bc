// application/trickle-ice-sdpfrag bodies (RFC 8840) as sent in WHIP/WHEP PATCH requests.
import { Refusal } from '../src/core/index.js';

export interface SdpFragment {
  iceUfrag: string | undefined;
  icePwd: string | undefined;
  candidates: string[];
}

export function parseSdpFragment(text: string): SdpFragment {
  const fragment: SdpFragment = { iceUfrag: undefined, icePwd: undefined, candidates: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (!/^[a-z]=/.test(line)) throw new Refusal('invalid', `malformed trickle-ice-sdpfrag line: ${line.slice(0, 80)}`);
    if (line.startsWith('a=ice-ufrag:')) fragment.iceUfrag = line.slice('a=ice-ufrag:'.length);
    else if (line.startsWith('a=ice-pwd:')) fragment.icePwd = line.slice('a=ice-pwd:'.length);
    else if (line.startsWith('a=candidate:')) fragment.candidates.push(line.slice(2));
  }
  return fragment;
}
