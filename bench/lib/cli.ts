// Tiny flag parser for the bench scripts: --name value, --name=value and boolean --flag.
import { parseArgs } from 'node:util';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; help: string }>;

export function parseFlags<S extends FlagSpec>(spec: S, usage: string): { [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean : string } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, s] of Object.entries(spec)) options[name] = { type: s.type };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: process.argv.slice(2), options, strict: true }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${help(spec, usage)}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(help(spec, usage));
    process.exit(0);
  }
  const out: Record<string, string | boolean> = {};
  for (const [name, s] of Object.entries(spec)) out[name] = values[name] ?? s.default ?? (s.type === 'boolean' ? false : '');
  return out as { [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean : string };
}

function help(spec: FlagSpec, usage: string): string {
  const lines = Object.entries(spec).map(([name, s]) => `  --${name}${s.type === 'string' ? ' <value>' : ''}  ${s.help}${s.default !== undefined && s.default !== '' ? ` (default ${String(s.default)})` : ''}`);
  return `${usage}\n\nOptions:\n${lines.join('\n')}`;
}

export function intFlag(name: string, raw: string, min = 0): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

export function numberFlag(name: string, raw: string, min = 0): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

export function intListFlag(name: string, raw: string): number[] {
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => intFlag(name, s));
  if (list.length === 0) fail(`--${name} needs at least one value`);
  return list;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Runs a benchmark's main(), always cleaning up (children, browsers, the server) and exiting with its status. */
export function runBench(name: string, main: () => Promise<void>, cleanup: () => Promise<void>): void {
  main().then(
    async () => {
      await cleanup();
      process.exit(0);
    },
    async (error: unknown) => {
      console.error(`${name} failed: ${(error as Error)?.stack ?? String(error)}`);
      await cleanup();
      process.exit(1);
    },
  );
}
