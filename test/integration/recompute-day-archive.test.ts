import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptArchiveDayError } from '../../batch/archive-check.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { NoArchivedDayError, recomputeDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// `backfill --from D --to D` (recomputeDay) after a definition changed, over an archive that cannot
// replay the day whole: a --archive without the day, or the day's files moved to _corrupt/. It published
// the replay of nothing as the day's new version: every stored cell withdrawn, exit 0 (a walkthrough's
// day went from 1440 cells to 0), where `reconcile --date` refuses the same day.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const changed = { ...def, where: [{ field: 'url', op: '!=' as const, value: '/b' }] };
const click = (id: string, ts: number, url: string) => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
const lines = [...Array.from({ length: 10 }, (_, m) => click(`a${m}`, T0 + m * M, m % 2 ? '/a' : '/b')), click('close', T0 + 20 * M, '/c')];

describe.each(backends)('recomputing a whole day the archive cannot replay: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  const streamedDay = async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('dc27') });
    stores.push(store);
    await store.writeRealtime((await streamLines(def, lines)).changelog);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    return { store, archiveDir };
  };
  const cells = async (store: SqlResultStore) => (await store.current(def.name, DAY)).length;

  it('an archive without the day: refused, the stored cells stay live', async () => {
    const { store } = await streamedDay();
    const before = await cells(store);
    expect(before).toBe(11);
    const empty = join(ws.dir, `empty-${randomUUID()}`);
    await mkdir(empty, { recursive: true });
    const refused = await recomputeDay({ def: changed, date: DAY, store, archiveDir: empty, jobId: 'rc1', hasStoredRows: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NoArchivedDayError);
    expect((refused as Error).message).toBe(`no archived events for ${DAY} in ${empty}: archive the day first`);
    expect(await cells(store)).toBe(before);
    expect((await store.status(def.name, DAY)).liveGeneration).toBe(0);
    // Nothing stored and nothing archived is still a day to skip, not a refusal.
    expect(await recomputeDay({ def: changed, date: '2026-11-20', store, archiveDir: empty, jobId: 'rc2', hasStoredRows: false })).toMatchObject({ generation: null });
  });

  it("the day's files moved to _corrupt/: refused naming them, nothing published; the whole archive recomputes the day", async () => {
    const { store, archiveDir } = await streamedDay();
    const hours = join(archiveDir, 'clicks', `dt=${DAY}`);
    const [hour] = await readdir(hours);
    const [file] = await readdir(join(hours, hour!));
    const corrupt = join(archiveDir, 'clicks', '_corrupt');
    await mkdir(corrupt, { recursive: true });
    await rename(join(hours, hour!, file!), join(corrupt, `dt=${DAY}__${hour}__${file}`));
    const refused = await recomputeDay({ def: changed, date: DAY, store, archiveDir, jobId: 'rc1', hasStoredRows: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CorruptArchiveDayError);
    expect((refused as Error).message).toMatch(new RegExp(`^${def.name} ${DAY}: not published: 1 archive file\\(s\\) of the day are corrupt .*then run again$`));
    expect((await store.status(def.name, DAY)).liveGeneration).toBe(0);
    await rename(join(corrupt, `dt=${DAY}__${hour}__${file}`), join(hours, hour!, file!));
    const s = await recomputeDay({ def: changed, date: DAY, store, archiveDir, jobId: 'rc1', hasStoredRows: true });
    expect(s).toMatchObject({ cells: 6, generation: 1, previous: 0 });
  });
});
