// This process's child processes, read from /proc: to check that FFmpeg pipelines start and are gone when they should.
import { readdirSync, readFileSync } from 'node:fs';

/** Command lines of this process's live children whose command line contains every given fragment. */
export function childCommands(...fragments: string[]): string[] {
  return childProcesses(...fragments).map((child) => child.command);
}

/** This process's live children whose command line contains every given fragment, with their pids. */
export function childProcesses(...fragments: string[]): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || fields[0] === 'Z') continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (fragments.every((f) => command.includes(f))) found.push({ pid: Number(entry), command });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}
