// The HLS multivariant playlist of a stream and its renditions (/live/{app}/{stream}.m3u8?abr=1): one
// EXT-X-STREAM-INF per variant, with what a player needs to choose between them (RFC 8216 §4.3.4.2).

export interface HlsVariant {
  /** The variant's media playlist, relative to the multivariant playlist. */
  uri: string;
  /** Peak bits per second of its segments. */
  bandwidthBps: number;
  width: number | undefined;
  height: number | undefined;
  fps: number | undefined;
  /** RFC 6381 codec names ("avc1.42e01f", "mp4a.40.2"); unknown ones are left out, and the attribute with them. */
  codecs: string[];
}

/** Highest bandwidth first: the order players read as the preferred one. */
export function multivariantPlaylist(variants: readonly HlsVariant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const variant of [...variants].sort((a, b) => b.bandwidthBps - a.bandwidthBps)) {
    const attributes = [`BANDWIDTH=${Math.max(1, Math.round(variant.bandwidthBps))}`];
    if (variant.width !== undefined && variant.height !== undefined) attributes.push(`RESOLUTION=${variant.width}x${variant.height}`);
    if (variant.fps !== undefined) attributes.push(`FRAME-RATE=${variant.fps.toFixed(3)}`);
    if (variant.codecs.length > 0) attributes.push(`CODECS="${variant.codecs.join(',')}"`);
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, variant.uri);
  }
  return `${lines.join('\n')}\n`;
}
