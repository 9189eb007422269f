import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archivedOffsetRuns, updateOffsetLedger } from '../../batch/archive-offsets.ts';
import { offsetsDir, schemaDir } from '../../batch/archive-layout.ts';
import { DuckDb } from '../../batch/duckdb.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import type { LineBatch } from '../../sources/source.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The ledger of archived offsets (batch/archive-offsets.ts) stands for every offset of the archive: after
// whatever happened to the files since it was written, it must give what a read of every file gives.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const schema = pageViewsPerMinute.schema;
const T0 = Date.UTC(2026, 10, 20), DAY = 86_400_000;

/** Offsets `offsets` of source `clicks:0`, one event each at day `d` (hour 0), named like a Kafka flush. */
function flush(dir: string, d: number, offsets: number[], stem = `clicks_0-${offsets[0]}-${offsets.at(-1)}`): Promise<unknown> {
  const lines = offsets.map((o) => JSON.stringify({ event_id: `e${o}`, ts: T0 + d * DAY + o, url: '/a', visitor_id: 'v' }));
  const batch: LineBatch = { source: 'clicks:0', firstOffset: offsets[0]!, lines, offsets };
  return new ParquetArchive(dir, schema).write((async function* () { yield batch; })(), { mode: 'append', stem });
}

async function runs(dir: string): Promise<unknown> {
  const db = await DuckDb.open();
  try {
    return Object.fromEntries(await archivedOffsetRuns(dir, schema, db));
  } finally {
    db.close();
  }
}

/** Backdates every hour folder's mtime: the ledger trusts folders not changed within 2 s of being listed. */
async function settled(dir: string): Promise<void> {
  for (const f of await listArchiveFiles(dir, schema)) utimesSync(join(f, '..'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
}

describe('the ledger of archived offsets', () => {
  it('follows files added, replaced in place (same name, size and mtime), removed, and a ledger it cannot read', async () => {
    const dir = join(ws.dir, 'a');
    await flush(dir, 0, [0, 1, 2]);
    await flush(dir, 1, [3, 5, 6]);
    await settled(dir);
    expect(await runs(dir)).toEqual({ 'clicks:0': [[0, 3], [5, 6]] });
    // A new day: read alone, merged.
    await flush(dir, 2, [7, 8]);
    expect(await runs(dir)).toEqual({ 'clicks:0': [[0, 3], [5, 8]] });
    // Day 1's file replaced by one of other offsets (of the same size), renamed over it, its mtime kept
    // (a copy with -p; Node sets it back to the microsecond, so here its mtime or its new inode tells).
    const day1 = (await listArchiveFiles(dir, schema)).find((f) => f.includes('dt=2026-11-21'))!;
    const other = join(ws.dir, 'other');
    await flush(other, 1, [3, 4, 6], 'clicks_0-3-6');
    const replacement = (await listArchiveFiles(other, schema))[0]!;
    const before = statSync(day1);
    expect(statSync(replacement).size).toBe(before.size);
    copyFileSync(replacement, `${day1}.new`);
    renameSync(`${day1}.new`, day1);
    utimesSync(day1, before.atime, before.mtime);
    expect(await runs(dir)).toEqual({ 'clicks:0': [[0, 4], [6, 8]] });
    // A day deleted.
    rmSync(join(schemaDir(dir, schema), 'dt=2026-11-20'), { recursive: true });
    expect(await runs(dir)).toEqual({ 'clicks:0': [[3, 4], [6, 8]] });
    // A ledger that is not one: rebuilt.
    mkdirSync(offsetsDir(dir, schema), { recursive: true });
    writeFileSync(join(offsetsDir(dir, schema), 'ledger.json'), '{"version": 2, "days"');
    expect(await runs(dir)).toEqual({ 'clicks:0': [[3, 4], [6, 8]] });
  });

  it('rebuilds a ledger of version 1 (one union for the archive) once, from every file', async () => {
    const dir = join(ws.dir, 'v1');
    await flush(dir, 0, [0, 1, 2]);
    await flush(dir, 1, [4, 5]);
    await settled(dir);
    // As the release before wrote it: runs of the whole archive, which no removal can be taken out of.
    mkdirSync(offsetsDir(dir, schema), { recursive: true });
    writeFileSync(join(offsetsDir(dir, schema), 'ledger.json'), JSON.stringify({ version: 1, folders: {}, runs: { 'clicks:0': [[0, 2], [4, 5]] } }));
    const db = await DuckDb.open();
    try {
      const first = await updateOffsetLedger(dir, schema, db);
      expect(Object.fromEntries(first.runs)).toEqual({ 'clicks:0': [[0, 2], [4, 5]] });
      expect(first.read).toHaveLength(2);
      expect((await updateOffsetLedger(dir, schema, db)).read).toEqual([]);
      expect(JSON.parse(readFileSync(join(offsetsDir(dir, schema), 'ledger.json'), 'utf8')).version).toBe(2);
    } finally {
      db.close();
    }
  });

  it('keeps a transactional source (an offset per transaction marker) to a few characters a run', async () => {
    const dir = join(ws.dir, 'txn');
    // 300 transactions of 3 records, each followed by its commit marker's offset: 300 runs.
    const offsets = Array.from({ length: 900 }, (_, i) => 1_000_000_000 + Math.floor(i / 3) * 4 + (i % 3));
    await flush(dir, 0, offsets);
    const found = (await runs(dir)) as Record<string, [number, number][]>;
    expect(found['clicks:0']).toHaveLength(300);
    const text = readFileSync(join(offsetsDir(dir, schema), 'ledger.json'), 'utf8');
    const runsPart = text.length - text.replace(/"runs":\{[^}]*\}/, '').length;
    // `1,2,` a run after the first (was `[1000000004,1000000006],`: 23 characters).
    expect(runsPart).toBeLessThan(300 * 5);
  });
});
