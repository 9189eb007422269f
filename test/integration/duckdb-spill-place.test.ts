import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';

// The in-memory DuckDB of replay, reconcile and backfill spilled what did not fit into `.tmp` of the
// current directory (DuckDB's default for an in-memory database): the user's working directory, often
// a repository, where a process killed mid-reconcile left its temp files (130 MB here for a 64 MB limit).
// Each instance now spills into a folder of its own under the system's temporary directory, removed on close.
describe('where an in-memory DuckDB spills', () => {
  const home = process.cwd();
  let cwd = '';
  afterEach(() => {
    process.chdir(home);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('under the system temporary directory, never the working directory, and nothing is left after close', async () => {
    cwd = mkdtempSync(join(tmpdir(), 'concord-spill-cwd-'));
    process.chdir(cwd);
    const db = await DuckDb.open(':memory:', { memoryLimit: '32MB', threads: 1 });
    let temp = '';
    try {
      await db.run(`CREATE TABLE big AS SELECT md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS a FROM range(1500000) t(i)`);
      const [row] = await db.rows(`SELECT current_setting('temp_directory') AS t`);
      temp = String(row!.t);
      expect(temp.startsWith(join(tmpdir(), 'concord-duckdb-'))).toBe(true);
      expect(readdirSync(temp).length).toBeGreaterThan(0); // it did spill
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      db.close();
    }
    expect(existsSync(temp)).toBe(false);
  });
});
