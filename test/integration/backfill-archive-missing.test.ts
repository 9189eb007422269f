import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { backfillDay, NoArchivedDayError, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { concord } from '../fixtures/cli.ts';

// A job worker started with an --archive that names another folder (an empty one, or none at all):
// its backfill jobs replayed the dirty cells from nothing and consumed them ("0 of N dirty cells
// changed"), so the news they stood for was gone when the right archive was given; and its reconcile
// jobs advised `--allow-empty --force` for a folder that does not exist.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const P = def.name;
const click = (id: string, ts: number, url = '/a') => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
const lines = [...Array.from({ length: 10 }, (_, m) => click(`a${m}`, T0 + m * M)), click('close', T0 + 20 * M, '/c')];
const noop = async () => undefined;

const stores: SqlResultStore[] = [];
afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

describe.each(backends)('an archive that does not hold the day: $name', ({ url }) => {

  /** A reconciled day with one dirty cell, its archive, an empty archive folder and a missing one. */
  const reconciledWithDirtyCell = async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('bfm') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    await store.writeRealtime((await streamLines(def, lines)).changelog);
    await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' });
    await store.markDirty(P, [{ day: DAY, windowStart: T0 + 4 * M, key: { url: '/a' } }], 'late_after_reconcile');
    const empty = join(ws.dir, `empty-${randomUUID()}`);
    await mkdir(join(empty, 'clicks'), { recursive: true });
    return { store, archiveDir, empty, missing: join(ws.dir, `missing-${randomUUID()}`) };
  };

  it('backfill refuses the day and keeps its dirty cells; with the archive it recomputes them', async () => {
    const { store, archiveDir, empty, missing } = await reconciledWithDirtyCell();
    const before = await store.current(P, DAY);
    for (const dir of [empty, missing]) {
      const refused = await backfillDay({ def, date: DAY, store, archiveDir: dir, jobId: `bf-${dir}` }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NoArchivedDayError);
      expect((refused as NoArchivedDayError).archiveExists).toBe(dir === empty);
      expect(await store.dirtyCells(P, DAY)).toHaveLength(1);
    }
    expect(await store.current(P, DAY)).toEqual(before);
    expect(await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf-right' })).toMatchObject({ dirty: 1, recomputed: 1 });
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
  });

  it('the jobs say a missing archive folder is the worker\'s --archive, not a day to archive or to allow empty', async () => {
    const { store, empty, missing } = await reconciledWithDirtyCell();
    const jobs = (dir: string) => defaultProcessors({ store, registry: seedRegistry(), archiveDir: dir, timing: { maxOutOfOrderness: 1_000, allowedLateness: 0 } });
    const reconcileMissing = await jobs(missing).reconcile({ date: DAY, pipeline: P, jobId: 'r2' }, noop).catch((e: Error) => e.message);
    expect(reconcileMissing).toBe(`no archived events for ${DAY}: the archive ${missing} does not exist; check --archive (env CONCORD_ARCHIVE_DIR) names the folder \`concord archive --dir\` writes: start the worker with the archive's folder (--archive), then \`concord jobs retry --date ${DAY}\``);
    const reconcileEmpty = await jobs(empty).reconcile({ date: DAY, pipeline: P, jobId: 'r3' }, noop).catch((e: Error) => e.message);
    expect(reconcileEmpty).toContain(`no archived events for ${DAY} in ${empty}: archive the day first, then`);
    expect(reconcileEmpty).toContain('--allow-empty --force');
    const backfillEmpty = await jobs(empty).backfill({ date: DAY, pipeline: P, jobId: 'bf' }, noop).catch((e: Error) => e.message);
    expect(backfillEmpty).toBe(`no archived events for ${DAY} in ${empty}: archive the day first, then \`concord jobs retry --date ${DAY}\` (its dirty cells are kept)`);
    expect(await store.dirtyCells(P, DAY)).toHaveLength(1);
  });
});

describe('concord backfill --date with an --archive that does not hold the day', () => {
  it('says so per pipeline, exit 2, and keeps the dirty cells', async () => {
    const file = join(ws.dir, `${randomUUID()}.duckdb`);
    const store = await openStore(`duckdb:${file}`, { registry: seedRegistry() });
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    await store.writeRealtime((await streamLines(def, lines)).changelog);
    await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' });
    await store.markDirty(P, [{ day: DAY, windowStart: T0 + 4 * M, key: { url: '/a' } }], 'late_after_reconcile');
    await store.close();
    const empty = join(ws.dir, `empty-${randomUUID()}`);
    await mkdir(empty);
    const r = concord(['backfill', '--date', DAY, '--pipeline', P, '--archive', empty, '--store', `duckdb:${file}`, '--max-out-of-orderness', '1s', '--allowed-lateness', '0']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${P} ${DAY}: not backfilled: no archived events for ${DAY} in ${empty}: archive the day first (its dirty cells are kept)`);
    const after = await openStore(`duckdb:${file}`, { registry: seedRegistry() });
    stores.push(after);
    expect(await after.dirtyCells(P, DAY)).toHaveLength(1);
  }, 120_000);
});
