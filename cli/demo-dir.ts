import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';

/** What `concord demo` writes in its directory: inputs, realtime outputs, archive, replay, reports, the store. */
const DEMO_ENTRIES: readonly string[] = ['input', 'realtime', 'archive', 'replay', 'reports', 'store.duckdb', 'store.duckdb.wal'];

/**
 * Empties the demo's directory for a fresh run: it removes only the demo's own entries, and refuses a
 * directory that holds anything else (exit 2, naming it). Removing `--dir` whole, as before, deleted
 * whatever a user's directory held (`--dir .` in a project). A directory that is not there is left to
 * the demo's writers, which make it.
 */
export async function clearDemoDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const foreign = entries.filter((e) => !DEMO_ENTRIES.includes(e)).sort();
  if (foreign.length > 0) {
    const named = foreign.length > 5 ? `${foreign.slice(0, 5).join(', ')} and ${foreign.length - 5} more` : foreign.join(', ');
    throw new ConfigError(
      `--dir ${dir} holds ${named} that the demo did not write: the demo recreates its directory on each run, ` +
        'so it would delete them; name a new or empty directory (default .concord/demo)',
    );
  }
  for (const e of entries) await rm(join(dir, e), { recursive: true, force: true });
}
