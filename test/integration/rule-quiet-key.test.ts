import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { truncate } from 'node:fs/promises';
import { CorruptArchiveDayError } from '../../batch/archive-check.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { transactionsSchema } from '../../examples/seed.ts';
import { Registry } from '../../pipeline/registry.ts';
import { archiveChangedSince } from '../../reconcile/archive-changes.ts';
import { backfillDay, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends } from '../fixtures/result-store.ts';
import { BIG_SPEND_HOURLY } from '../fixtures/rule-cases.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A rule day's first alert depends on the status at the key's last event before the day, which counts
// that event's own span. Backfill and reconcile looked two spans before midnight: a key quiet for longer
// (its last event 3 spans back) whose late file lands within that event's span kept its stale alert (no
// cell was marked dirty) and reconciling the day again could not explain the difference.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const H = 60 * M;
const D0 = Date.parse(`${DAY}T00:00:00Z`);
const bigSpend = BIG_SPEND_HOURLY;
const registry = new Registry([transactionsSchema], [bigSpend], 'rule-quiet-key');
const txn = (id: string, ts: number, user: string, amount: number) => JSON.stringify({ txn_id: id, ts, user_id: user, country: 'FR', amount });

/** Three users quiet since 21:00 the day before (600.00, under the limit), each crossing it at 00:0x with 1500.00. */
const dayLines = () => ['k', 'm', 'n'].flatMap((u, i) => [txn(`${u}-p`, D0 - 3 * H, u, 600), txn(`${u}-e`, D0 + (i + 1) * M, u, 1500)]);
/**
 * Written after the day's reconcile, all older than two spans before midnight: k's 20:30 puts 21:00 over
 * the limit (within its span), m's 21:30 becomes the last event and is over it alone; n's 19:30 is
 * before 21:00's span and changes nothing.
 */
const lateLines = () => [txn('k-q', D0 - 3 * H - 30 * M, 'k', 500), txn('m-q', D0 - 2 * H - 30 * M, 'm', 1200), txn('n-q', D0 - 4 * H - 30 * M, 'n', 500)];

async function archive(dir: string, lines: string[], source: string): Promise<void> {
  await new ParquetArchive(dir, transactionsSchema).write(memoryBatches(source, lines, 1000));
}

describe.each(backends)('a quiet key\'s late file before the two spans: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  async function reconciledThenLate(): Promise<{ store: SqlResultStore; dir: string }> {
    const store = await openStore(url(), { registry, schema: schemas.next('quiet') });
    stores.push(store);
    const dir = join(ws.dir, `archive-${randomUUID()}`);
    await archive(dir, dayLines(), 'file:day.jsonl');
    await store.writeRealtime((await streamLines(bigSpend, dayLines())).changelog);
    expect(await reconcileDay({ def: bigSpend, date: DAY, store, archiveDir: dir, jobId: 'r-1' })).toMatchObject({ status: 'published', report: { different: 0 } });
    expect((await store.current(bigSpend.name, DAY)).map((r) => r.key.user_id).sort()).toEqual(['k', 'm', 'n']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await archive(dir, lateLines(), 'file:late.jsonl');
    return { store, dir };
  }

  it('the backfill marks k and m (not n) and withdraws their alerts of the day', async () => {
    const { store, dir } = await reconciledThenLate();
    const checkedThrough = await store.archiveCheckedThrough(bigSpend.name, DAY);
    const found = await archiveChangedSince(bigSpend, dir, DAY, checkedThrough!);
    expect(found.cells.map((c) => c.key.user_id).sort()).toEqual(['k', 'm']);
    expect(await backfillDay({ def: bigSpend, date: DAY, store, archiveDir: dir, jobId: 'bf-1' })).toMatchObject({ dirty: 2, fromArchive: 2, changed: 2 });
    expect((await store.current(bigSpend.name, DAY)).map((r) => r.key.user_id)).toEqual(['n']);
  });

  // A corrupt file within a quiet key's reach hides events the day's first alert depends on: not published.
  it('a corrupt file within a quiet key\'s reach (20:50 the day before) stops the publish, as one of the day\'s own does', async () => {
    const store = await openStore(url(), { registry, schema: schemas.next('quiet') });
    stores.push(store);
    const dir = join(ws.dir, `archive-${randomUUID()}`);
    await archive(dir, dayLines(), 'file:day.jsonl');
    await archive(dir, [txn('k-o', D0 - 3 * H - 10 * M, 'k', 500)], 'file:other.jsonl');
    await store.writeRealtime((await streamLines(bigSpend, dayLines())).changelog);
    const other = (await listArchiveFiles(dir, transactionsSchema)).find((f) => f.includes('file_other'))!;
    await truncate(other, 5);
    const refused = await reconcileDay({ def: bigSpend, date: DAY, store, archiveDir: dir, jobId: 'r-corrupt' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CorruptArchiveDayError);
  });

  it('reconciling the day again withdraws them and names the late file\'s events: archive_added', async () => {
    const { store, dir } = await reconciledThenLate();
    const steps: string[] = [];
    const rec = await reconcileDay({ def: bigSpend, date: DAY, store, archiveDir: dir, jobId: 'r-2', progress: (p) => void steps.push(p.what) });
    expect(rec).toMatchObject({ status: 'published', report: { different: 2, unexplained: 0, causes: { archive_added: 2 } } });
    // A rule publishes alerts (it said "1 cells").
    expect(steps).toContain('publishing the replayed day (1 alert; 2 differ from the stream\'s)');
    expect(rec.report.differences.map((d) => [d.cell.user_id, d.late_events.map((e) => e.id)])).toEqual([['k', ['k-q']], ['m', ['m-q']]]);
    expect((await store.current(bigSpend.name, DAY)).map((r) => r.key.user_id)).toEqual(['n']);
  });
});
