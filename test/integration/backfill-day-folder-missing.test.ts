import { randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { clicksSchema } from '../../examples/seed.ts';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { Registry } from '../../pipeline/registry.ts';
import { hopping } from '../../pipeline/windows.ts';
import { backfillDay, NoArchivedDayError, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A day's folder of the archive gone (moved, another disk not mounted) while the next day's is there:
// a hopping 1 h window every 15 min reaches 00:45 of the next day, so the day's check ("events that can
// fall into its cells") found the next day's hour 00 and passed. The backfill then replayed the dirty
// cells of the day's own windows to nothing and consumed them unchanged (a walk, 2026-12-08: 73 of 76
// dirty cells, the job "completed"); their news was lost when the folder came back. And the refused
// attempt moved the day's archive check past the files it could not see: archive-only late data of the
// day was no news once the folder was back.
const { ws, schemas, backends } = storeBackends();
const M = 60_000, H = 60 * M;
const D0 = Date.parse(`${DAY}T00:00:00Z`);
const hourly: WindowedPipeline = {
  schema: clicksSchema, watermark: { maxOutOfOrderness: 1_000 }, allowedLateness: 0, where: [],
  kind: 'windowed', name: 'hourly_15m', key: [], window: hopping(H, 15 * M), aggregates: [{ output: 'views', aggregate: { kind: 'count' } }],
};
const registry = new Registry([clicksSchema], [hourly], 'backfill-day-folder');
const click = (id: string, ts: number) => JSON.stringify({ event_id: id, ts, url: '/a', visitor_id: `v${id}` });
const stores: SqlResultStore[] = [];
afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

describe.each(backends)('a backfill whose day folder is missing beside the next day\'s: $name', ({ url }) => {
  it('is refused, its dirty cells kept; with the folder back it recomputes them', async () => {
    const store = await openStore(url(), { registry, schema: schemas.next('bdf') });
    stores.push(store);
    const dir = join(ws.dir, `archive-${randomUUID()}`);
    const lines = [click('a', D0 + 10 * H), click('b', D0 + 10 * H + 5 * M), click('n', D0 + 24 * H + 10 * M), click('close', D0 + 26 * H)];
    await new ParquetArchive(dir, clicksSchema).write(memoryBatches('file:day.jsonl', lines, 1000));
    await store.writeRealtime((await streamLines(hourly, lines)).changelog);
    await reconcileDay({ def: hourly, date: DAY, store, archiveDir: dir, jobId: 'r1' });
    // A late event of 10:07 after the reconcile, read by the stream (its four windows dirty) and archived.
    await new ParquetArchive(dir, clicksSchema).write(memoryBatches('file:late.jsonl', [click('late', D0 + 10 * H + 7 * M)], 1000));
    // And one of 14:07 that reached the archive only (no stream record of it): news while the day's folder is there.
    await new ParquetArchive(dir, clicksSchema).write(memoryBatches('file:late-archive.jsonl', [click('only', D0 + 14 * H + 7 * M)], 1000));
    await store.markDirty(hourly.name, [9 * 60 + 15, 9 * 60 + 30, 9 * 60 + 45, 10 * 60].map((m) => ({ day: DAY, windowStart: D0 + m * M, key: {} })), 'late_after_reconcile');
    const day = join(dir, 'clicks', `dt=${DAY}`);
    await rename(day, `${day}.away`);
    const before = await store.current(hourly.name, DAY);
    const refused = await backfillDay({ def: hourly, date: DAY, store, archiveDir: dir, jobId: 'bf1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NoArchivedDayError);
    expect(await store.current(hourly.name, DAY)).toEqual(before);
    expect(await store.dirtyCells(hourly.name, DAY)).toHaveLength(4);
    await rename(`${day}.away`, day);
    const done = await backfillDay({ def: hourly, date: DAY, store, archiveDir: dir, jobId: 'bf2' });
    // The refused attempt did not move the day's archive check past the files it could not see.
    expect(done).toMatchObject({ dirty: 8, recomputed: 8, changed: 8 });
    const views = new Map((await store.current(hourly.name, DAY)).map((r) => [(r.windowStart - D0) / M, Number(r.values.views)]));
    expect([9 * 60 + 15, 9 * 60 + 30, 9 * 60 + 45, 10 * 60].map((m) => views.get(m))).toEqual([3, 3, 3, 3]);
    expect([13 * 60 + 15, 13 * 60 + 30, 13 * 60 + 45, 14 * 60].map((m) => views.get(m))).toEqual([1, 1, 1, 1]);
    expect(await store.dirtyCells(hourly.name, DAY)).toEqual([]);
  });
});
