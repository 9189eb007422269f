import { readFileSync } from 'node:fs';

/**
 * `npm run concord -- serve` (or `jobs worker`, `run`, `sink`) runs node under npm -> sh. A SIGTERM
 * to npm stops npm and its shell, but the shell does not pass it on: this process would run on,
 * orphaned. So every command watches the wrappers between it and the nearest npm/npx (Linux /proc) and
 * takes one's exit as a SIGTERM (cli/main.ts). Started any other way (node, tsx, a service manager),
 * nothing is watched: those deliver signals themselves.
 */
interface Ancestor {
  pid: number;
  /** Start time (clock ticks since boot): tells a pid reused by a new process from the one watched. */
  start: string;
  command: string;
}

function ancestor(pid: number): (Ancestor & { ppid: number }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state ppid ... starttime is the 20th of them (field 22 of the line).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return { pid, ppid: Number(rest[1]), start: rest[19] ?? '', command };
  } catch {
    return undefined;
  }
}

const NPM = /(^|\/)(npm|npx)(\s|$)|npm-cli\.js|npx-cli\.js/;

/** The wrappers up to and including the nearest npm/npx ancestor; none when there is no such ancestor. */
export function wrapperChain(maxDepth = 6): Ancestor[] {
  const chain: Ancestor[] = [];
  let pid = process.ppid;
  for (let i = 0; i < maxDepth && pid > 1; i++) {
    const a = ancestor(pid);
    if (!a) return [];
    chain.push({ pid: a.pid, start: a.start, command: a.command });
    if (NPM.test(a.command)) return chain;
    pid = a.ppid;
  }
  return [];
}

/** Calls `gone` once when a wrapper of `wrapperChain()` exits; returns a function that stops watching. */
export function whenWrapperExits(gone: (wrapper: Ancestor) => void, intervalMs = 500): () => void {
  const chain = wrapperChain();
  if (chain.length === 0) return () => undefined;
  const timer = setInterval(() => {
    const dead = chain.find((a) => ancestor(a.pid)?.start !== a.start);
    if (!dead) return;
    clearInterval(timer);
    gone(dead);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
