// HLS VOD/EVENT playlists of recordings: one #EXT-X-PROGRAM-DATE-TIME per segment (wall clock of the ingest),
// #EXT-X-DISCONTINUITY where a stream was spliced (or recordings merged), #EXT-X-ENDLIST once finished.
export interface PlaylistSegment {
  uri: string;
  durationSeconds: number;
  programDateTime: Date;
  discontinuity: boolean;
  /** CMAF init segment URI (#EXT-X-MAP), written again whenever it changes. */
  init?: string;
}

export function renderPlaylist(segments: readonly PlaylistSegment[], ended: boolean): string {
  const target = Math.max(1, ...segments.map((s) => Math.ceil(s.durationSeconds)));
  const fmp4 = segments.some((s) => s.init !== undefined);
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${fmp4 ? 7 : 3}`, `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', `#EXT-X-PLAYLIST-TYPE:${ended ? 'VOD' : 'EVENT'}`];
  let init: string | undefined;
  segments.forEach((segment, i) => {
    if (segment.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
    // The MAP again after a discontinuity (a new run has its own init segment) or whenever the init changes.
    if (segment.init !== undefined && (segment.init !== init || (segment.discontinuity && i > 0))) lines.push(`#EXT-X-MAP:URI="${segment.init}"`);
    init = segment.init;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${segment.programDateTime.toISOString()}`, `#EXTINF:${segment.durationSeconds.toFixed(3)},`, segment.uri);
  });
  if (ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
