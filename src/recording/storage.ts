// Where recordings live. Keys are relative POSIX paths ("record/live/s1/1700000000_0.ts"). A file only ever
// appears under its final key complete: written under a temporary name, fsynced, then renamed. LocalStorage is
// the only implementation; object storage would implement the same interface (commit = upload).
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface StoredFile {
  bytes: number;
  modified: Date;
}

export interface RecordingStorage {
  /** Writes a whole file atomically. */
  write(key: string, data: string | Buffer): Promise<void>;
  /** Makes a file written elsewhere in the storage (e.g. by FFmpeg) durable and visible under its final key. */
  commit(fromKey: string, toKey: string): Promise<void>;
  read(key: string): Promise<Buffer>;
  /** Keys under a prefix (recursively). */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  stat(key: string): Promise<StoredFile | undefined>;
  /** A local path FFmpeg can read or write (local storage only). */
  localPath(key: string): string;
}

export class LocalStorage implements RecordingStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  localPath(key: string): string {
    const path = resolve(this.root, key);
    if (path !== this.root && !path.startsWith(this.root + sep)) throw new Error(`storage key outside the root: ${key}`);
    return path;
  }

  async write(key: string, data: string | Buffer): Promise<void> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomUUID().slice(0, 8)}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  }

  async commit(fromKey: string, toKey: string): Promise<void> {
    const from = this.localPath(fromKey);
    const to = this.localPath(toKey);
    const handle = await open(from, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await mkdir(dirname(to), { recursive: true });
    await rename(from, to);
  }

  read(key: string): Promise<Buffer> {
    return readFile(this.localPath(key));
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.localPath(prefix);
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile()).map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'));
  }

  async delete(key: string): Promise<void> {
    await rm(this.localPath(key), { force: true, recursive: true });
  }

  async stat(key: string): Promise<StoredFile | undefined> {
    const info = await stat(this.localPath(key)).catch(() => undefined);
    return info?.isFile() ? { bytes: info.size, modified: info.mtime } : undefined;
  }
}
