import { randomUUID } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptArchiveDayError } from '../../batch/archive-check.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry, transactionsSchema } from '../../examples/seed.ts';
import { withTiming, type RulePipeline } from '../../pipeline/definition.ts';
import { Registry } from '../../pipeline/registry.ts';
import { backfillDay, reconcileDay, recomputeDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// Archive files moved to _corrupt/ where a publish reads: its cells miss their events. `reconcile` refused
// such a day; a backfill of dirty cells upserted the smaller numbers unchecked, and `backfill --from/--to`
// (recomputeDay) checked a rule day's two spans only, not a quiet key's older reach.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const H = 60 * M;
const D0 = Date.parse(`${DAY}T00:00:00Z`);

/** A hour partition's Parquet file replaced by bytes no reader takes (a torn copy). */
async function tearFileOfHour(dir: string, schema: string, day: string, hour: string): Promise<void> {
  const folder = join(dir, schema, `dt=${day}`, `hour=${hour}`);
  const [file] = (await readdir(folder)).filter((f) => f.endsWith('.parquet'));
  await writeFile(join(folder, file!), 'not parquet at all');
}

describe.each(backends)('a publish over archive files moved out of its reach is refused: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });
  const fresh = async (registry: Registry) => {
    const s = await openStore(url(), { registry, schema: schemas.next('cr') });
    stores.push(s);
    return s;
  };

  it('backfill of dirty cells whose hour file is torn: refused naming it, the reconciled numbers stay', async () => {
    const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
    const click = (id: string, ts: number, u: string) => JSON.stringify({ event_id: id, ts, url: u, visitor_id: `v${id}` });
    const lines = [
      ...Array.from({ length: 4 }, (_, i) => click(`a${i}`, T0 + M + i * 1000, '/a')), // 10:01, hour 10
      ...Array.from({ length: 3 }, (_, i) => click(`b${i}`, T0 + H + M + i * 1000, '/a')), // 11:01, hour 11
      click('close', T0 + 2 * H, '/c'),
    ];
    const store = await fresh(seedRegistry());
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    await store.writeRealtime((await streamLines(def, lines)).changelog);
    expect(await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' })).toMatchObject({ status: 'published' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // A late click of 11:01 reaches the archive only (its cell is dirty); then the hour's first file tears.
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:late.jsonl', [click('z', T0 + H + M + 9_000, '/a')], 1000));
    const hour11 = await readdir(join(archiveDir, 'clicks', `dt=${DAY}`, 'hour=11'));
    expect(hour11.filter((f) => f.endsWith('.parquet'))).toHaveLength(2);
    const first = hour11.filter((f) => f.endsWith('.parquet')).sort()[0]!;
    await writeFile(join(archiveDir, 'clicks', `dt=${DAY}`, 'hour=11', first), 'not parquet at all');
    const refused = await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CorruptArchiveDayError);
    expect((refused as Error).message).toMatch(new RegExp(`^${def.name} ${DAY}: not published: 1 archive file\\(s\\) of the day are corrupt and not read \\(.*dt=${DAY}__hour=11__.*then run again$`));
    const views = (await store.current(def.name, DAY)).map((r) => [(r.windowStart - T0) / M, r.key.url, r.values.views]);
    expect(views).toContainEqual([61, '/a', 3]); // not 1 (the late click alone)
    expect(views).toContainEqual([1, '/a', 4]);
  });

  it("backfill --from/--to of a rule day: a quiet key's older reach in a torn file is refused; whole, the day has no alert", async () => {
    // Alert when a user's spend within 10 minutes passes 50.00 and their previous transaction's did not.
    const rule: RulePipeline = {
      kind: 'rule', name: 'big_spender', schema: transactionsSchema, key: 'user_id', where: [],
      watermark: { maxOutOfOrderness: 1_000 }, allowedLateness: 0,
      rule: { kind: 'lookback', measure: 'sum', field: 'amount', output: 'spent', span: 10 * M, threshold: 5_000 },
    };
    const registry = new Registry([transactionsSchema], [rule], 'corrupt-reach');
    const txn = (id: string, ts: number, amount: string) => JSON.stringify({ txn_id: id, ts, user_id: 'u1', country: 'NL', amount });
    // 22:55 (hour 22) spends 100.00, so the key's last transaction before the day, 23:01 (1.00), satisfies the
    // rule; the day's 00:30 (100.00) follows a satisfied one: no alert. Without hour 22, 23:01 does not
    // satisfy it and 00:30 alerts. Hour 22 is past the day's two spans (23:40): only the key's reach finds it.
    const lines = [txn('t1', D0 - 65 * M, '100.00'), txn('t2', D0 - 59 * M, '1.00'), txn('t3', D0 + 30 * M, '100.00')];
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, transactionsSchema).write(memoryBatches('file:txns.jsonl', lines, 1000));
    const store = await fresh(registry);
    const before = '2026-11-22';
    await tearFileOfHour(archiveDir, 'transactions', before, '22');
    const refused = await recomputeDay({ def: rule, date: DAY, store, archiveDir, jobId: 'rc1', hasStoredRows: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CorruptArchiveDayError);
    expect((refused as Error).message).toContain(`dt=${before}__hour=22__`);
    expect(await store.current(rule.name, DAY)).toEqual([]);
    // The whole archive again: the day has no alert, nothing to publish.
    const whole = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(whole, transactionsSchema).write(memoryBatches('file:txns.jsonl', lines, 1000));
    expect(await recomputeDay({ def: rule, date: DAY, store, archiveDir: whole, jobId: 'rc2', hasStoredRows: false })).toMatchObject({ cells: 0, generation: null });
  });
});
