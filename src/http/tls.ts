// HTTPS: the certificate and key of http.tls, read and checked at startup; a missing or invalid file stops
// startup with a ConfigError naming it.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/config.js';

export interface TlsFiles {
  cert: string;
  key: string;
}

export function loadTls(files: TlsFiles | undefined): { cert: Buffer; key: Buffer } | undefined {
  if (!files) return undefined;
  const read = (setting: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`cannot read ${setting} ${path}: ${(error as Error).message}`);
    }
  };
  const cert = read('http.tls.cert', files.cert);
  const key = read('http.tls.key', files.key);
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`http.tls.cert ${files.cert} holds no PEM certificate`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new ConfigError(`http.tls.key ${files.key} holds no PEM private key`);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError(`invalid TLS certificate/key (http.tls.cert ${files.cert}, http.tls.key ${files.key}): ${(error as Error).message}`);
  }
  return { cert, key };
}
