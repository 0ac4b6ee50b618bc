// The demo pages' modules (web-demo/*.js) for code that runs in Node: tests, and benches, which run from dist/.
// The pages get them as they are, so tsc copies them nowhere and a static import from dist/ would find nothing:
// they are imported at run time from the checkout.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root: the nearest ancestor of this file with a package.json (works from source and from dist/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Imports web-demo/<file>; T: its declared types, `typeof import('../../web-demo/<file>')`. */
export async function importWebDemo<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(join(projectRoot(), 'web-demo', file)).href)) as T;
}
