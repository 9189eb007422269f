import { statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The scripts of package.json that run this CLI (`npm run concord -- ...`, `npm run demo`). */
const CLI_SCRIPTS = new Set(['concord', 'demo']);

/**
 * The directory the user's relative paths mean. npm runs a script in the package root, so
 * `cd /tmp/u && npm --prefix /work/main run concord -- validate --definitions rides.json` would look for
 * /work/main/rides.json; npm says where it was run from in INIT_CWD. Only when npm ran one of our CLI
 * scripts from the package root: a command spawned by another script (`npm test`'s children inherit
 * INIT_CWD) or run outside npm keeps its own working directory. Undefined: nothing to change.
 */
export function callerDirectory(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  const caller = env.INIT_CWD;
  if (!caller || caller === cwd) return undefined;
  if (!CLI_SCRIPTS.has(env.npm_lifecycle_event ?? '') || !env.npm_package_json || dirname(env.npm_package_json) !== cwd) return undefined;
  try {
    return statSync(caller).isDirectory() ? caller : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Moves to the caller's directory before anything reads a path. Safe for what is not the user's: command
 * modules are imported relative to their own URL, the seed definitions and the dashboard's files are found
 * from `import.meta.url`, and tsx resolved the entry point and its tsconfig at start.
 */
export function useCallerDirectory(): void {
  const dir = callerDirectory();
  if (dir === undefined) return;
  started = process.cwd();
  process.chdir(dir);
}

let started: string | undefined;

/**
 * The directory this process started in, before `useCallerDirectory` moved to the caller's: where its own
 * node options resolve (`--import tsx` finds tsx from there), so where a child running this CLI must start.
 * The child moves to the caller's directory itself, from the same INIT_CWD.
 */
export function startDirectory(): string {
  return started ?? process.cwd();
}
