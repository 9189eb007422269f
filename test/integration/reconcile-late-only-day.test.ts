import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { fraudMultiCountry, pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { NoRealtimeRowsError, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { quarantineRecord, type QuarantineRecord } from '../../store/quarantine-records.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { storeBackends } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A day whose every result the stream judged late (its only window's events came after the next day's,
// its only alert moved past midnight by a late transaction) has no realtime rows, yet the stream read it:
// its late log says so. `reconcile --date` refused it as a day the stream missed ("stream it", exit 2),
// which streaming again cannot change; it is reconciled like any day, its differences named late.
const { ws, schemas, backends } = storeBackends();

const D24 = '2026-11-24', D25 = '2026-11-25';
const at = (iso: string) => Date.parse(iso);
const click = (id: string, iso: string) => JSON.stringify({ event_id: id, ts: at(iso), url: '/', visitor_id: `v${id}` });
const txn = (id: string, iso: string, country: string) => JSON.stringify({ txn_id: id, ts: at(iso), user_id: 'u1', country, amount: '1.00' });

describe.each(backends)('reconcile --date of a day the stream judged wholly late: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  /** Streams `lines` into a fresh store (rows and late log) and archives the same lines. */
  const streamedAndArchived = async (def: PipelineDefinition, lines: string[]) => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('w6late') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    const streamed = await streamLines(def, lines);
    await store.writeRealtime(streamed.changelog);
    await store.appendLate(def.name, streamed.lates.map((record) => ({ record, evaluatedOnArrival: false })));
    return { store, archiveDir, streamed };
  };

  it('a window day whose only event arrived after the next day moved W: published, late_beyond_lateness', async () => {
    const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 30_000, allowedLateness: 300_000 });
    const { store, archiveDir, streamed } = await streamedAndArchived(def, [click('a', '2026-11-25T10:00:00.000Z'), click('b', '2026-11-24T23:59:59.999Z')]);
    expect(streamed.lates.map((l) => l.event.event_id)).toEqual(['b']);
    const rec = await reconcileDay({ def, date: D24, store, archiveDir, jobId: 'r24' });
    expect(rec).toMatchObject({ status: 'published', report: { different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } } });
    expect((await store.current(def.name, D24)).map((r) => r.values.views)).toEqual([1]);
    expect(await reconcileDay({ def, date: D25, store, archiveDir, jobId: 'r25' })).toMatchObject({ status: 'published', report: { different: 0 } });
  });

  it('a rule day whose only alert a late transaction moved past midnight: published, late_beyond_lateness', async () => {
    // Complete data alerts at c (23:59:59.999, four countries within 10 min); the stream dropped b as late
    // (the next day's 00:20 had moved W) and alerted at d, 00:00, on the next day.
    const def = withTiming(fraudMultiCountry(), { maxOutOfOrderness: 30_000, allowedLateness: 300_000 });
    const lines = [
      txn('a', '2026-11-24T23:55:00.000Z', 'US'), txn('x', '2026-11-24T23:56:00.000Z', 'PL'), txn('c', '2026-11-24T23:59:59.999Z', 'DE'),
      txn('d', '2026-11-25T00:00:00.000Z', 'IT'), txn('e', '2026-11-25T00:20:00.000Z', 'ES'), txn('b', '2026-11-24T23:58:00.000Z', 'FR'),
    ];
    const { store, archiveDir, streamed } = await streamedAndArchived(def, lines);
    expect(streamed.lates.map((l) => l.event.txn_id)).toEqual(['b']);
    expect(streamed.final.map((r) => r.kind === 'alert' && r.id)).toEqual(['d']);
    const rec = await reconcileDay({ def, date: D24, store, archiveDir, jobId: 'r24' });
    expect(rec).toMatchObject({ status: 'published', report: { different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } } });
    expect((await store.current(def.name, D24)).map((r) => r.values.txn_id)).toEqual(['c']);
    expect(await reconcileDay({ def, date: D25, store, archiveDir, jobId: 'r25' })).toMatchObject({ status: 'published', report: { causes: { late_beyond_lateness: 1 } } });
  });

  // Streamed first and archived later (docs/semantics.md "Time that lies"): the stream quarantined every
  // event of the day for a time ahead of its clock; the archive, when their time had come, counted them.
  // The store keeps the stream's verdicts, yet the day was refused as one the stream missed.
  it('a window day whose every event the stream quarantined (future_timestamp): published, its cells future_timestamp', async () => {
    const M = 60_000;
    const ahead = Math.floor((Date.now() + 2 * 3_600_000) / M) * M;
    const base = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 30_000, allowedLateness: 300_000 });
    // Every event 50 s beyond the stream's max_future_skew (while this test runs).
    const def = { ...base, schema: { ...base.schema, maxFutureSkewMs: ahead + 5_000 - Date.now() } };
    const lines = [click('a', new Date(ahead + 55_000).toISOString()), click('b', new Date(ahead + 56_000).toISOString())];
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('w6quar') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    // The archive of what the stream read (its positions: streamLines reads file:input.jsonl).
    await new ParquetArchive(archiveDir, { ...def.schema, maxFutureSkewMs: Infinity }).write(memoryBatches('file:input.jsonl', lines, 1000));
    const streamed = await streamLines(def, lines);
    expect(streamed.changelog).toEqual([]);
    const quarantined = streamed.deadLetters.map((d) => quarantineRecord(d, def.schema.name)).filter((q): q is QuarantineRecord => q !== null);
    expect(quarantined.map((q) => q.offset)).toEqual([0, 1]);
    await store.writeBatch({ results: [], late: new Map(), watermarks: new Map(), quarantined });
    const day = new Date(ahead).toISOString().slice(0, 10);
    const rec = await reconcileDay({ def, date: day, store, archiveDir, jobId: 'rq' });
    expect(rec).toMatchObject({ status: 'published', report: { different: 1, unexplained: 0, causes: { future_timestamp: 1 } } });
    expect(rec.report.differences.map((d) => [d.realtime, d.replay?.views, d.late_events.map((e) => e.id)])).toEqual([[null, 2, ['a', 'b']]]);
    expect((await store.current(def.name, day)).map((r) => r.values.views)).toEqual([2]);
  });

  it('a day with no realtime rows whose cells are not all late is still a day the stream missed', async () => {
    // b is late, but a (another URL's minute, never late) has no row either: the stream did not write the day.
    const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 30_000, allowedLateness: 300_000 });
    const lines = [click('a', '2026-11-24T09:00:00.000Z'), click('c', '2026-11-25T10:00:00.000Z'), click('b', '2026-11-24T23:59:59.999Z')];
    const { archiveDir, streamed } = await streamedAndArchived(def, lines);
    // The stream's rows of the 24th lost (what a stream that was down leaves): only the 25th's are kept.
    const store2 = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('w6late') });
    stores.push(store2);
    await store2.writeRealtime(streamed.changelog.filter((r) => r.kind === 'window' && r.windowStart >= at('2026-11-25T00:00:00.000Z')));
    await store2.appendLate(def.name, streamed.lates.map((record) => ({ record, evaluatedOnArrival: false })));
    await expect(reconcileDay({ def, date: D24, store: store2, archiveDir, jobId: 'r24' })).rejects.toThrow(new NoRealtimeRowsError(def.name, D24).message);
  });
});
