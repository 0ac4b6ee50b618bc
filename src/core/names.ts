// Stream identity, the same on every protocol: an app and a stream name (AppName/StreamName), within the ingest
// domain the stream was published to. One pattern for names and one way to key a stream.

/** What an app or stream name may be, on every ingest and playback protocol. */
export const STREAM_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$';
const NAME = new RegExp(STREAM_NAME_PATTERN);

export function isStreamName(name: string): boolean {
  return NAME.test(name);
}

export interface StreamName {
  app: string;
  stream: string;
}

/** "app/stream": how a stream is named in logs, the API and callbacks. */
export function streamPath(name: StreamName): string {
  return `${name.app}/${name.stream}`;
}

/**
 * The registry key of a stream: its ingest domain and its path. Streams of the default domain (every host that is
 * not configured) are keyed by their path alone, as they are named everywhere when no domains are configured.
 */
export function streamKey(ingestDomain: string | undefined, name: StreamName): string {
  return ingestDomain === undefined ? streamPath(name) : `${ingestDomain}/${streamPath(name)}`;
}
