import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { DayRecomputedError, DefinitionChangedError, reconcileDay, recomputeDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A definition changed mid-day: the stream's rows of the day come from two definitions. `reconcile`
// refused the day and said to recompute it with `backfill --from D --to D`; once that was done, it
// refused it again with the same advice, forever (and the nightly job failed on each retry).
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const changed = { ...def, where: [{ field: 'url', op: '!=' as const, value: '/b' }] };
const P = def.name;
const click = (id: string, ts: number, url: string) => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
const lines = [...Array.from({ length: 10 }, (_, m) => click(`a${m}`, T0 + m * M, m % 2 ? '/a' : '/b')), click('close', T0 + 20 * M, '/c')];

describe.each(backends)('reconcile of a day whose definition changed mid-day: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  it('refused as a day of two definitions, then, recomputed under the new one, said done with nothing published', async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('rrd') });
    stores.push(store);
    // The old definition streamed the first half of the day, the changed one the rest.
    await store.writeRealtime((await streamLines(def, lines.slice(0, 5))).changelog);
    await store.writeRealtime((await streamLines(changed, lines.slice(5))).changelog);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));

    const mixed = await reconcileDay({ def: changed, date: DAY, store, archiveDir, jobId: 'r1' }).catch((e: unknown) => e);
    expect(mixed).toBeInstanceOf(DefinitionChangedError);
    const [oldV, newV] = [definitionVersion(def), definitionVersion(changed)];
    expect((mixed as Error).message).toMatch(new RegExp(
      `^${P} ${DAY}: the stream's rows were computed by definition version ${oldV} \\(\\d+ rows\\) and ${newV} \\(\\d+ rows\\), the definitions give ${newV}: ` +
      'reconcile compares a day with the definition that computed it: no one definition computed the day; recompute it under this one with `concord backfill'));

    expect(await recomputeDay({ def: changed, date: DAY, store, archiveDir, jobId: 'b1', hasStoredRows: true })).toMatchObject({ generation: 1 });
    const again = await reconcileDay({ def: changed, date: DAY, store, archiveDir, jobId: 'r2' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(DayRecomputedError);
    expect((again as Error).message).toMatch(new RegExp(`^${P} ${DAY}: already recomputed from the archive under these definitions \\(${newV}\\): nothing to reconcile`));
    expect((await store.status(P, DAY)).liveGeneration).toBe(1);
    expect(await store.reconciliations(P, DAY)).toEqual([]);
    expect((await store.current(P, DAY)).every((r) => r.definitionVersion === newV)).toBe(true);
  });
});
