import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { backfillDay, reconcileDay } from '../../reconcile/reconcile-day.ts';
import type { ResultRecord } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// Two stream runs over two inputs of the same windows (a day's second file streamed into the same store):
// the store keeps the first run's rows and records the cells the second contradicts. Reconcile names
// those differences `other_run` (they were unexplained, and stayed so after a backfill had consumed the
// dirty cells or a reconcile had published the day).
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const P = def.name;
const click = (id: string, ts: number, url: string) => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });

/** The first file: minutes 0..4 of /a (minute + 1 clicks each); minute 20 closes them. */
const first = [...Array.from({ length: 5 }, (_, m) => Array.from({ length: m + 1 }, (__, i) => click(`a${m}-${i}`, T0 + m * M + i * 100, '/a'))).flat(),
  click('close', T0 + 20 * M, '/c')];
/** The second file: one more click of /a in minute 2 (contradicts the first run's 3), a new url, its own closer. */
const second = [click('o1', T0 + 2 * M + 5, '/a'), click('o2', T0 + 2 * M + 6, '/new'), click('close2', T0 + 20 * M, '/d')];

describe.each(backends)('reconcile after another run contradicted the stream: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  /** A store with the first run written, an archive of both files, and a way to write the second run. */
  async function twoRuns(): Promise<{ store: SqlResultStore; archiveDir: string; firstFinal: ResultRecord[]; writeSecond: () => Promise<number | undefined> }> {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('or') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:first.jsonl', first, 1000));
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:second.jsonl', second, 1000));
    const streamed = await streamLines(def, first);
    await store.writeRealtime(streamed.changelog);
    return { store, archiveDir, firstFinal: streamed.final, writeSecond: async () => (await store.writeRealtime((await streamLines(def, second)).changelog)).conflicting };
  }

  it('names the contradicted cell other_run and publishes the day from every input', async () => {
    const { store, archiveDir, writeSecond } = await twoRuns();
    expect(await writeSecond()).toBe(1);
    const rec = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1', reportDir: join(ws.dir, 'reports') });
    expect(rec.report.causes.other_run).toBe(1);
    expect(rec.report.unexplained).toBe(0);
    const a2 = (await store.current(P, DAY)).find((r) => r.windowStart === T0 + 2 * M && r.key.url === '/a');
    expect(a2?.values.views).toBe(4);
  });

  it('names other_run where the second file\'s value of a cell equals the first\'s (the store recorded no cell), and publishes', async () => {
    // Minute 0 of /a: one click in each file. The second run's row equals the first's, so the store takes
    // it for a rerun and records no cell; the replay counts 2. (It was unexplained: the day never published.)
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('or') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const one = [click('a0', T0 + 100, '/a'), click('close', T0 + 20 * M, '/c')];
    const two = [click('o1', T0 + 5, '/a'), click('close2', T0 + 20 * M, '/d')];
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:first.jsonl', one, 1000));
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:second.jsonl', two, 1000));
    await store.writeRealtime((await streamLines(def, one)).changelog);
    expect((await store.writeRealtime((await streamLines(def, two)).changelog)).conflicting ?? 0).toBe(0);
    expect(await store.contradictedCells(P, DAY)).toEqual([]);
    const rec = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1', reportDir: join(ws.dir, 'reports') });
    expect(rec.report.differences.map((d) => [d.cell.url, d.realtime?.views, d.replay?.views, d.cause])).toEqual([['/a', 1, 2, 'other_run']]);
    expect(rec.report.unexplained).toBe(0);
    const a0 = (await store.current(P, DAY)).find((r) => r.windowStart === T0 && r.key.url === '/a');
    expect(a0?.values.views).toBe(2);
  });

  it('still other_run after a backfill of the published day consumed the dirty cell, and after a reconcile published it', async () => {
    const { store, archiveDir, firstFinal, writeSecond } = await twoRuns();
    // Published from the first run's rows, then the second run: the backfill writes a new version, while
    // the stream's own rows (version 0) keep the first run's values.
    await store.publishDay(P, DAY, firstFinal, { jobId: 'r0', provenance: 'reconciled' });
    expect(await writeSecond()).toBe(1);
    await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf1' });
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
    const r1 = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1', reportDir: join(ws.dir, 'reports') });
    expect(r1.report.causes.other_run).toBe(1);
    expect(r1.report.unexplained).toBe(0);
    // A second reconcile of the published day still names it.
    const r2 = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r2', reportDir: join(ws.dir, 'reports') });
    expect(r2.report.causes.other_run).toBe(1);
    expect(r2.report.unexplained).toBe(0);
  });
});
