import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A job meeting a corrupt archive file: a file whose magic bytes and footer are intact but whose data
// pages are damaged failed the job on DuckDB's own error ("ZSTD Decompression failure"), with no file
// named and nothing to do; a truncated file failed it saying "run again" and `reconcile --date --force`,
// the CLI's words, where a job is rerun with `concord jobs retry`.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const timing = { maxOutOfOrderness: 1_000, allowedLateness: 0 };
const def = withTiming(pageViewsPerMinute, timing);
const P = def.name;
const click = (id: string, ts: number, url = '/a') => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
// Three hours of the day, so one file can be damaged while the others are read.
const lines = [...Array.from({ length: 30 }, (_, m) => click(`a${m}`, T0 + m * 6 * M)), click('close', T0 + 200 * M, '/c')];
const noop = async () => undefined;
/** Where a Parquet file's footer begins: its length is the 4 bytes before the closing magic bytes. */
const footerStart = (bytes: Buffer) => bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
const parquet = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet') && !f.includes('_corrupt')).map((f) => join(dir, f)).sort();

const stores: SqlResultStore[] = [];
afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

describe.each(backends)('a job meeting a corrupt archive file: $name', ({ url }) => {
  const reconciledWithDirtyCell = async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('jca') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    await store.writeRealtime((await streamLines(def, lines)).changelog);
    await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' });
    await store.markDirty(P, [{ day: DAY, windowStart: T0, key: { url: '/a' } }], 'late_after_reconcile');
    return { store, archiveDir, jobs: defaultProcessors({ store, registry: seedRegistry(), archiveDir, timing }) };
  };

  it('damaged data pages: the file is moved out by name and the job says to restore it, then `jobs retry`', async () => {
    const { store, archiveDir, jobs } = await reconciledWithDirtyCell();
    const damaged = parquet(archiveDir)[0]!;
    const bytes = readFileSync(damaged);
    bytes.fill(0xab, 4, footerStart(bytes)); // every data page: the magic bytes and the footer stay
    writeFileSync(damaged, bytes);
    const before = await store.current(P, DAY);
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const refused = await jobs.reconcile({ date: DAY, pipeline: P, jobId: 'r2' }, noop).then(() => 'published', (e: Error) => e.message);
      expect(refused).toMatch(new RegExp(`^${P} ${DAY}: not published: 1 archive file\\(s\\) of the day are corrupt and not read \\(.*_corrupt/dt=${DAY}__hour=10__`));
      const rerun = `then \`concord jobs retry --date ${DAY}\`; to publish the day without them instead, \`concord reconcile --date ${DAY} --pipeline ${P} --archive ${archiveDir} --force\` with the worker's --store`;
      expect(refused).toContain(rerun);
      expect(refused.endsWith(store.backend === 'duckdb' ? ' (an embedded DuckDB store: with the worker stopped)' : '--store')).toBe(true);
      expect(refused).not.toContain('run again');
      expect(existsSync(damaged)).toBe(false);
      expect(warned.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/is not read: unreadable data: /)]);
    } finally {
      warned.mockRestore();
    }
    expect(await store.current(P, DAY)).toEqual(before);
    // A backfill of the day meets the file in _corrupt/: retried, not run again, and the dirty cell waits for it.
    const backfill = await jobs.backfill({ date: DAY, pipeline: P, jobId: 'bf' }, noop).then(() => 'backfilled', (e: Error) => e.message);
    expect(backfill).toMatch(new RegExp(`delete the file from _corrupt/, then \`concord jobs retry --date ${DAY}\` \\(its dirty cells are kept\\)$`));
    expect(await store.dirtyCells(P, DAY)).toHaveLength(1);
  });
});
