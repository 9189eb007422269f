import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { clicksSchema } from '../../examples/seed.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';

// `archive --input` staged the whole input in an in-memory DuckDB table without a memory limit before
// writing the hours: its memory grew with the day (1M clicks 0.6 GB, 5M clicks 2.2 GB peak RSS), so a
// big enough day ran the machine out of memory. The staging now has a memory limit
// (CONCORD_ARCHIVE_MEMORY_MB) and spills beyond it into <dir>/.tmp/, which is removed afterwards.
// At a small scale: a 32 MB limit and ~60 MB of staged events (user agents that do not compress) must spill there, and leave nothing behind.
const T0 = Date.parse('2026-11-23T00:00:00Z');
const lines = Array.from({ length: 150_000 }, (_, i) =>
  JSON.stringify({ event_id: `e${i}`, ts: T0 + i * 500, url: `/p/${i % 300}`, visitor_id: `v${i}`, user_agent: randomBytes(150).toString('hex') }));

/** DuckDB's temporary files under `tmp` (not the Parquet files written before their rename). */
function spillFiles(tmp: string): number {
  try {
    return readdirSync(tmp, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.endsWith('.parquet')).length;
  } catch {
    return 0;
  }
}

describe('archive --input memory', () => {
  let dir = '';
  afterEach(async () => {
    delete process.env.CONCORD_ARCHIVE_MEMORY_MB;
    await rm(dir, { recursive: true, force: true });
  });

  it('stages beyond its memory limit on disk under <dir>/.tmp, and removes it after', async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-archive-mem-'));
    process.env.CONCORD_ARCHIVE_MEMORY_MB = '32';
    // While the write runs, DuckDB's temporary files (what went over the limit) are under <dir>/.tmp.
    let spilled = 0;
    const look = setInterval(() => { spilled = Math.max(spilled, spillFiles(join(dir, '.tmp'))); }, 2);
    const stats = await new ParquetArchive(dir, clicksSchema).write(memoryBatches('file:clicks.jsonl', lines, 10_000)).finally(() => clearInterval(look));
    expect(stats.events).toBe(lines.length);
    expect((await listArchiveFiles(dir, clicksSchema)).length).toBe(21);
    expect(spilled).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['clicks']);
    const db = await DuckDb.open();
    try {
      const [row] = await db.rows(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM read_parquet('${dir}/clicks/*/*/*.parquet')`);
      expect([Number(row!.n), Number(row!.ids)]).toEqual([lines.length, lines.length]);
    } finally {
      db.close();
    }
  }, 60_000);

  it('refuses a limit that is no whole number of MB, naming the variable', async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-archive-mem-'));
    process.env.CONCORD_ARCHIVE_MEMORY_MB = '1GB';
    await expect(new ParquetArchive(dir, clicksSchema).write(memoryBatches('file:clicks.jsonl', lines.slice(0, 10))))
      .rejects.toThrow(/CONCORD_ARCHIVE_MEMORY_MB "1GB"/);
  });
});
