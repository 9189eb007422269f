import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { fraudMultiCountry, pageViewsPerMinute, seedRegistry, uniqueVisitors5m } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { safeName } from '../../pipeline/names.ts';
import { Registry } from '../../pipeline/registry.ts';
import { backfillDays } from '../../jobs/backfill-days.ts';
import { archiveChangedSince } from '../../reconcile/archive-changes.ts';
import { currentReconciliation } from '../../reconcile/day-report.ts';
import { backfillDay, DefinitionChangedError, NoArchivedDayError, NoRealtimeRowsError, reconcileDay, reportPath, UnexplainedDifferencesError } from '../../reconcile/reconcile-day.ts';
import type { LateRecord, ResultRecord, WindowResult } from '../../schemas/results.ts';
import { runStream } from '../../stream/runtime.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { concord } from '../fixtures/cli.ts';

// Issue 14 on both backends: dirty cells only for changed values, set-based bookkeeping, backfill of
// archive content that arrived after the day was reconciled, reconcile's --force and empty days.
const { ws, schemas, backends } = storeBackends();

const M = 60_000;
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const P = def.name;
const click = (id: string, ts: number, url = '/a') => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
const views = (rows: { key: Record<string, unknown>; values: Record<string, unknown>; windowStart: number }[]) =>
  rows.map((r) => [(r.windowStart - T0) / M, r.key.url, r.values.views]);

/** Every minute 0..9 has /a (minute + 1 clicks) and /b (1 click); minute 20 closes them. */
function dayLines(): string[] {
  const lines: string[] = [];
  for (let m = 0; m < 10; m++) {
    for (let i = 0; i <= m; i++) lines.push(click(`a${m}-${i}`, T0 + m * M + i * 100, '/a'));
    lines.push(click(`b${m}`, T0 + m * M + 30_000, '/b'));
  }
  lines.push(click('close', T0 + 20 * M, '/c'));
  return lines;
}

async function archiveLines(dir: string, lines: string[], source: string): Promise<void> {
  await new ParquetArchive(dir, def.schema).write(memoryBatches(source, lines, 1000));
}

describe.each(backends)('dirty cells and backfill: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });
  const fresh = async () => {
    const s = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('bf') });
    stores.push(s);
    return s;
  };

  /** A fresh store holding the day as streamed, and an archive of the same lines. */
  const streamedAndArchived = async () => {
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const lines = dayLines();
    await archiveLines(archiveDir, lines, 'file:day.jsonl');
    const streamed = await streamLines(def, lines);
    await store.writeRealtime(streamed.changelog);
    return { store, archiveDir, streamed };
  };

  it('re-streaming a reconciled day dirties only the cells whose value changed', async () => {
    const store = await fresh();
    const first = await streamLines(def, dayLines());
    await store.writeRealtime(first.changelog);
    await store.publishDay(P, DAY, first.final, { jobId: 'r1', provenance: 'reconciled' });
    // The same input again (a replayed results topic, a re-run stream): nothing changes, nothing is dirty.
    expect(await store.writeRealtime(first.changelog)).toEqual({ applied: 0, diverted: 0 });
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
    // The same day re-streamed with late clicks appended (L = 12 min, W then at 19:59): minute 9's window
    // is still within lateness (a new revision, a new value); minute 3's is not (a late event).
    const lenient = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 12 * M });
    const again = await streamLines(lenient, [...dayLines(), click('x1', T0 + 9 * M + 7, '/a'), click('x2', T0 + 3 * M + 7, '/b')]);
    expect(again.lates).toHaveLength(1);
    const outcome = await store.writeRealtime(again.changelog);
    expect(outcome.diverted).toBe(1);
    expect(await store.appendLate(P, again.lates.map((record) => ({ record, evaluatedOnArrival: false })))).toBe(1);
    expect((await store.dirtyCells(P, DAY)).map((d) => [(d.windowStart - T0) / M, d.key.url])).toEqual([[3, '/b'], [9, '/a']]);
    expect((await store.status(P, DAY)).dirty).toBe(2);
    // Readers still see the reconciled version.
    expect(views(await store.current(P, DAY)).slice(0, 2)).toEqual([[0, '/a', 1], [0, '/b', 1]]);
  });

  it('another run over other input of the same windows: its contradicting rows are counted and their cells dirtied, not dropped as replays', async () => {
    const store = await fresh();
    const first = await streamLines(def, dayLines());
    expect(await store.writeRealtime(first.changelog)).toMatchObject({ applied: first.changelog.length });
    // A second file of the same span: minute 2 of /a has 1 view there (3 in the first file), /new is new.
    const other = await streamLines(def, [click('o1', T0 + 2 * M + 5, '/a'), click('o2', T0 + 2 * M + 6, '/new'), click('close2', T0 + 20 * M, '/c')]);
    const outcome = await store.writeRealtime(other.changelog);
    expect(outcome.conflicting).toBe(1); // minute 2 of /a; minute 20 of /c has 1 view in both runs: no contradiction
    expect((await store.dirtyCells(P, DAY)).map((d) => [(d.windowStart - T0) / M, d.key.url])).toEqual([[2, '/a']]);
    expect(views(await store.current(P, DAY))).toContainEqual([2, '/a', 3]); // the stored row stays until a backfill
    expect(views(await store.current(P, DAY))).toContainEqual([2, '/new', 1]); // a new cell is simply written
    // The first run again (a rerun, a replayed topic): the same values, no conflict.
    expect((await store.writeRealtime(first.changelog)).conflicting).toBeUndefined();
  });

  it('another run whose contradicting revision 0 and next revision come in one flush: the cell is dirtied, not silently overwritten', async () => {
    const store = await fresh();
    const first = await streamLines(def, dayLines());
    await store.writeRealtime(first.changelog);
    // A second file of the same span whose minute 2 of /a fires (1 view), then gets a late click within
    // L (revision 1, 2 views): both revisions reach the store in one write. Revision 1 is higher than the
    // first run's stored revision 0, but the cell's revision 0 contradicts the stored one.
    const lenient = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 12 * M });
    const other = await streamLines(lenient, [click('o1', T0 + 2 * M + 5, '/a'), click('o2', T0 + 4 * M, '/b'), click('o3', T0 + 2 * M + 9, '/a'), click('close2', T0 + 20 * M, '/c')]);
    const a2 = other.changelog.filter((r) => r.kind === 'window' && r.key.url === '/a' && r.windowStart === T0 + 2 * M) as WindowResult[];
    expect(a2.map((r) => [r.revision, r.values.views])).toEqual([[0, 1], [1, 2]]);
    const outcome = await store.writeRealtime(other.changelog);
    expect(outcome.conflicting).toBeGreaterThanOrEqual(1);
    expect((await store.dirtyCells(P, DAY)).map((d) => [(d.windowStart - T0) / M, d.key.url])).toContainEqual([2, '/a']);
  });

  it('late events dirty their cell once: the same late events again change nothing', async () => {
    const store = await fresh();
    const first = await streamLines(def, dayLines());
    await store.writeRealtime(first.changelog);
    await store.publishDay(P, DAY, first.final, { jobId: 'r1', provenance: 'reconciled' });
    const late = (offset: number, minute: number) => ({
      evaluatedOnArrival: false,
      record: { pipeline: P, event: { event_id: `late${offset}`, ts: T0 + minute * M + 5, url: '/a', visitor_id: 'lv' }, watermark: T0 + 20 * M, windowStart: T0 + minute * M, windowEnd: T0 + (minute + 1) * M, position: { source: 'file:late.jsonl', offset } },
    });
    expect(await store.appendLate(P, [late(0, 1), late(1, 1), late(2, 4)] as never)).toBe(3);
    expect((await store.dirtyCells(P, DAY)).map((d) => (d.windowStart - T0) / M)).toEqual([1, 4]);
    await store.upsertBackfill(P, DAY, [], await store.dirtyCells(P, DAY), { jobId: 'bf1' });
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
    expect(await store.appendLate(P, [late(0, 1), late(1, 1), late(2, 4)] as never)).toBe(0);
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
  });

  it('archive files written after the reconcile: backfill finds their cells, recomputes exactly those, then finds nothing', async () => {
    const { store, archiveDir } = await streamedAndArchived();
    expect(await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf0' })).toMatchObject({ dirty: 0, fromArchive: 0 }); // not reconciled yet
    const rec = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' });
    expect(rec).toMatchObject({ status: 'published', corrections: 0 });
    const reconciledAt = await store.archiveCheckedThrough(P, DAY);
    expect(reconciledAt).not.toBeNull();
    expect((await archiveChangedSince(def, archiveDir, DAY, reconciledAt!)).files).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Late data that reaches only the archive: two clicks of minute 2 (/a), one of minute 5 for a new url.
    await archiveLines(archiveDir, [click('z1', T0 + 2 * M + 7, '/a'), click('z2', T0 + 2 * M + 8, '/a'), click('z3', T0 + 5 * M + 9, '/new')], 'file:late-archive.jsonl');
    const found = await archiveChangedSince(def, archiveDir, DAY, reconciledAt!);
    expect(found.files).toHaveLength(1);
    expect(found.cells.map((c) => [(c.windowStart - T0) / M, c.key.url])).toEqual([[2, '/a'], [5, '/new']]);
    const progress: number[] = [];
    const s = await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf1', progress: ({ done }) => { progress.push(done); } });
    expect(s).toEqual({ pipeline: P, date: DAY, dirty: 2, recomputed: 2, changed: 2, fromArchive: 2 });
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBeGreaterThanOrEqual(4);
    expect(progress.at(-1)).toBe(5);
    const now = views(await store.current(P, DAY));
    expect(now).toContainEqual([2, '/a', 5]);
    expect(now).toContainEqual([5, '/new', 1]);
    expect(now).toContainEqual([3, '/a', 4]); // untouched
    const changes = (await store.changesSince(0)).filter((c) => c.provenance === 'backfill');
    expect(changes.map((c) => [(c.windowStart - T0) / M, c.key.url, c.old, c.new])).toEqual([[2, '/a', { views: 3 }, { views: 5 }], [5, '/new', null, { views: 1 }]]);
    // Nothing new since: the next backfill finds nothing.
    expect(await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf2' })).toMatchObject({ dirty: 0, fromArchive: 0, changed: 0 });
  });

  // A revert chose the stream's record: a backfill used to upsert recomputed cells into version 0,
  // mixing them into that record (provenance `backfill` among the stream's rows).
  it('a day reverted to the stream\'s version: backfill skips it and keeps its dirty cells, the jobs look past it, a new reconcile still works', async () => {
    const { store, archiveDir } = await streamedAndArchived();
    await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' });
    expect(await store.revertedToStream(P, DAY)).toBe(false);
    expect(await store.revert(P, DAY)).toMatchObject({ from: 1, to: 0 });
    expect(await store.revertedToStream(P, DAY)).toBe(true);
    await store.markDirty(P, [{ day: DAY, windowStart: T0 + 4 * M, key: { url: '/a' } }], 'late_after_reconcile');
    const before = views(await store.current(P, DAY));
    const s = await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf1' });
    expect(s).toMatchObject({ dirty: 1, recomputed: 0, changed: 0, skipped: expect.stringContaining(`concord reconcile --date ${DAY} --pipeline ${P}`) });
    expect(views(await store.current(P, DAY))).toEqual(before);
    expect((await store.current(P, DAY)).every((r) => r.provenance !== 'backfill')).toBe(true);
    expect(await store.dirtyCells(P, DAY)).toHaveLength(1);
    expect(await backfillDays(store, def, [DAY], archiveDir)).toEqual(new Map());
    // The store itself refuses to write a backfill into the stream's version of a reverted day.
    await expect(store.upsertBackfill(P, DAY, [], [], { jobId: 'bf2' })).rejects.toThrow(/reverted to the stream's own version/);
    // Reconciled again: a new version, backfills possible again.
    expect(await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r2' })).toMatchObject({ status: 'published', generation: 2 });
    expect(await store.revertedToStream(P, DAY)).toBe(false);
    expect(await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bf3' })).toMatchObject({ dirty: 0, changed: 0 });
  });

  // Late data that reached only the archive after the day was reconciled, then backfilled: reconciling
  // the day again called its cells UNEXPLAINED (the stream never read those events) and published nothing.
  it('reconcile after archive-only late data: the cells it changed are archive_added, with its events, and the day is published', async () => {
    const uv = withTiming(uniqueVisitors5m(), { maxOutOfOrderness: 1_000, allowedLateness: 0 });
    const { store, archiveDir } = await streamedAndArchived();
    await store.writeRealtime((await streamLines(uv, dayLines())).changelog);
    for (const d of [def, uv]) expect(await reconcileDay({ def: d, date: DAY, store, archiveDir, jobId: `r1-${d.name}` })).toMatchObject({ status: 'published' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await archiveLines(archiveDir, [click('z1', T0 + 2 * M + 7, '/a'), click('z2', T0 + 2 * M + 8, '/a'), click('z3', T0 + 5 * M + 9, '/new')], 'file:late-archive.jsonl');
    for (const d of [def, uv]) expect(await backfillDay({ def: d, date: DAY, store, archiveDir, jobId: `bf-${d.name}` })).toMatchObject({ changed: 2 });
    const again = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r2' });
    // The backfill's version already holds the replay: nothing to publish (`unchanged`), the cells named.
    expect(again).toMatchObject({ status: 'unchanged', report: { different: 2, unexplained: 0, causes: { archive_added: 2, missing_window: 0 } } });
    expect(again.report.differences.map((d) => [d.cause, d.late_events.map((e) => e.id)])).toEqual([['archive_added', ['z1', 'z2']], ['archive_added', ['z3']]]);
    expect(again.report.differences[0]!.late_events[0]).toEqual({ id: 'z1', ts: new Date(T0 + 2 * M + 7).toISOString(), source: 'file:late-archive.jsonl', offset: 0 });
    // Sketches take the other replay path: the 5-minute windows of minutes 0-4 and 5-9 both gained a visitor.
    const sketched = await reconcileDay({ def: uv, date: DAY, store, archiveDir, jobId: 'r2-uv' });
    expect(sketched).toMatchObject({ status: 'unchanged', report: { different: 2, unexplained: 0, causes: { archive_added: 2 } } });
  });

  it('rules: an alert only a transaction archived after the reconcile raises is archive_added, with that transaction', async () => {
    const fraud = withTiming(fraudMultiCountry(), { maxOutOfOrderness: 1_000, allowedLateness: 0 });
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const txn = (id: string, ts: number, country: string, user: string) => JSON.stringify({ txn_id: id, ts, user_id: user, country, amount: 10 });
    // u9 is flagged (4 countries); u1 has 3 until its 4th country reaches only the archive.
    const lines = [txn('t1', T0, 'DE', 'u1'), txn('t2', T0 + M, 'FR', 'u1'), txn('t3', T0 + 2 * M, 'IT', 'u1'),
      ...['US', 'ES', 'PT', 'NL'].map((c, i) => txn(`n${i}`, T0 + 4 * M + i, c, 'u9')), txn('close', T0 + 30 * M, 'DE', 'u3')];
    const archive = (source: string, ls: string[]) => new ParquetArchive(archiveDir, fraud.schema).write(memoryBatches(source, ls, 1000));
    await archive('file:txns.jsonl', lines);
    await store.writeRealtime((await streamLines(fraud, lines)).changelog);
    expect(await reconcileDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'r1' })).toMatchObject({ status: 'published', report: { different: 0 } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await archive('file:late-txns.jsonl', [txn('t9', T0 + 3 * M, 'US', 'u1')]);
    expect(await backfillDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'bf1' })).toMatchObject({ changed: 1 });
    const again = await reconcileDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'r2' });
    expect(again).toMatchObject({ status: 'unchanged', report: { different: 1, unexplained: 0, causes: { archive_added: 1 } } });
    expect(again.report.differences.map((d) => [d.cause, d.late_events.map((e) => e.id)])).toEqual([['archive_added', ['t9']]]);
  });

  // The stream read a transaction the archive lacks (archived from an input cut short), and raised an
  // alert at it; a transaction of the same user evaluated on arrival was near. The alert was attributed
  // to late_within_lateness, and the published replay withdrew a correct alert.
  it('rules: an alert raised at an event the archive lacks is unexplained, not late_within_lateness', async () => {
    const fraud = withTiming(fraudMultiCountry(), { maxOutOfOrderness: 1_000, allowedLateness: 5 * M });
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const txn = (id: string, ts: number, country: string, user: string) => JSON.stringify({ txn_id: id, ts, user_id: user, country, amount: 10 });
    // t3 arrives after W passed it (within L: evaluated on arrival); t4 raises u1's alert (4 countries).
    const lines = [txn('t1', T0, 'DE', 'u1'), txn('t2', T0 + M, 'FR', 'u1'), txn('w', T0 + 3 * M, 'DE', 'u2'), txn('t3', T0 + 2 * M, 'IT', 'u1'),
      txn('t4', T0 + 3 * M + 10_000, 'US', 'u1'), txn('close', T0 + 30 * M, 'DE', 'u3')];
    const evaluated: LateRecord[] = [];
    const changelog: ResultRecord[] = [];
    await runStream({ pipelines: [fraud], source: memoryBatches('file:txns.jsonl', lines, 1000), onResult: (r) => changelog.push(r), onLate: () => undefined, onDeadLetter: () => undefined, onLateAccepted: (l) => evaluated.push(l) });
    expect(evaluated.map((l) => l.event.txn_id)).toEqual(['t3']);
    expect(changelog.map((r) => (r.kind === 'alert' ? r.id : null))).toEqual(['t4']);
    await store.writeRealtime(changelog);
    await store.appendLate(fraud.name, evaluated.map((record) => ({ record, evaluatedOnArrival: true })));
    // The archive holds every line but t4 and what came after it.
    await new ParquetArchive(archiveDir, fraud.schema).write(memoryBatches('file:txns.jsonl', lines.slice(0, 4), 1000));
    const refused = await reconcileDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'r1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnexplainedDifferencesError);
    expect((refused as UnexplainedDifferencesError).reconciliation.report).toMatchObject({ unexplained: 1, causes: { late_within_lateness: 0 } });
    expect((await store.status(fraud.name, DAY)).liveGeneration).toBe(0);
  });

  // A late transaction that moves a crossing earlier withdraws the later alert (one alert per crossing):
  // backfill upserted the new alert and kept the withdrawn one (two alerts for one crossing).
  it('rules: a backfill that withdraws an alert publishes a new version without it (revert brings it back)', async () => {
    const fraud = withTiming(fraudMultiCountry(), { maxOutOfOrderness: 1_000, allowedLateness: 0 });
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const txn = (id: string, ts: number, country: string, user = 'u1') => JSON.stringify({ txn_id: id, ts, user_id: user, country, amount: 10 });
    const lines = [txn('t1', T0, 'DE'), txn('t2', T0 + M, 'FR'), txn('t3', T0 + 2 * M, 'IT'), txn('t5', T0 + 5 * M, 'US'),
      ...['US', 'ES', 'PT', 'NL'].map((c, i) => txn(`n${i}`, T0 + 6 * M + i, c, 'u9')), txn('close', T0 + 30 * M, 'DE', 'u3')];
    const archive = (source: string, ls: string[]) => new ParquetArchive(archiveDir, fraud.schema).write(memoryBatches(source, ls, 1000));
    await archive('file:txns.jsonl', lines);
    await store.writeRealtime((await streamLines(fraud, lines)).changelog);
    await reconcileDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'r1' });
    const alerts = async () => (await store.current(fraud.name, DAY)).filter((r) => r.key.user_id === 'u1').map((r) => [(r.windowStart - T0) / M, r.provenance]);
    expect(await alerts()).toEqual([[5, 'reconciled']]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await archive('file:late-txns.jsonl', [txn('t4', T0 + 3 * M, 'ES')]);
    const seqBefore = (await store.changesSince(0)).length;
    expect(await backfillDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'bf1' })).toMatchObject({ dirty: 1, recomputed: 1, changed: 2 });
    expect(await alerts()).toEqual([[3, 'backfill']]);
    expect((await store.status(fraud.name, DAY))).toMatchObject({ liveGeneration: 2, generations: [1, 2] });
    const changes = (await store.changesSince(0)).slice(seqBefore);
    expect(changes.map((c) => [(c.windowStart - T0) / M, c.old === null ? null : 'alert', c.new === null ? null : 'alert', c.provenance])).toEqual([[3, null, 'alert', 'backfill'], [5, 'alert', null, 'backfill']]);
    // The previous version is still there to go back to; the backfilled one is what a full replay computes.
    expect(await store.revert(fraud.name, DAY)).toMatchObject({ from: 2, to: 1 });
    expect(await alerts()).toEqual([[5, 'reconciled']]);
    await store.revert(fraud.name, DAY);
    expect(await alerts()).toEqual([[3, 'backfill']]);
    // A reconcile finds the backfilled version exact: it stays live, no identical version 3.
    expect(await reconcileDay({ def: fraud, date: DAY, store, archiveDir, jobId: 'r2' })).toMatchObject({ generation: 2, previous_generation: 2, corrections: 0 });
  });

  // `reconcile --date` run again under its default job id after archive files were added: taken for a
  // retry, it published nothing while its report (stored under that id) described the new replay.
  it('reconcile again, under the same job id or another: the same replay changes nothing, a replay that differs is a new version', async () => {
    const { store, archiveDir } = await streamedAndArchived();
    expect(await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'reconcile:day' })).toMatchObject({ status: 'published', generation: 1, previous_generation: 0 });
    expect(await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'reconcile:day' })).toMatchObject({ status: 'unchanged', generation: 1, previous_generation: 1, corrections: 0 });
    // Another job id (the nightly job after a CLI reconcile) with the same replay: no identical version 2.
    const said: string[] = [];
    const progress = ({ what }: { what: string }) => { said.push(what); };
    expect(await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'reconcile__day', progress })).toMatchObject({ status: 'unchanged', generation: 1, previous_generation: 1, corrections: 0 });
    // Its progress says so (it said 'publishing ... as a new version', the jobs' status too).
    expect(said).toContain('version 1, live, already holds this replay: nothing published');
    expect(said.filter((w) => w.includes('new version'))).toEqual([]);
    expect((await store.status(P, DAY)).liveGeneration).toBe(1);
    await archiveLines(archiveDir, [click('z1', T0 + 2 * M + 7, '/a')], 'file:late-archive.jsonl');
    const again = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'reconcile:day' });
    expect(again).toMatchObject({ status: 'published', generation: 2, previous_generation: 1, corrections: 1 });
    expect(views(await store.current(P, DAY))).toContainEqual([2, '/a', 4]);
    // Every run is an entry: the one that published version 1 kept its record beside the two that found it.
    expect((await store.reconciliations(P, DAY)).map((r) => [r.job_id, r.status, r.generation])).toEqual([
      ['reconcile:day', 'published', 1], ['reconcile:day', 'unchanged', 1], ['reconcile__day', 'unchanged', 1], ['reconcile:day', 'published', 2],
    ]);
  });

  // A rerun that published nothing replaced the stored record of the run that published the live version
  // (same job id) or stood in front of it (another): report and API then said the version corrected nothing.
  it('a rerun that publishes nothing keeps the record of what the live version corrected', async () => {
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    // A click beyond the stream's lateness: the stream left minute 2's /a one short; the replay corrects it.
    const lines = [...dayLines(), click('late', T0 + 2 * M + 5, '/a')];
    await archiveLines(archiveDir, lines, 'file:day.jsonl');
    const streamed = await streamLines(def, lines);
    await store.writeRealtime(streamed.changelog);
    await store.appendLate(P, streamed.lates.map((record) => ({ record, evaluatedOnArrival: false })));
    const first = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'reconcile:day' });
    expect(first).toMatchObject({ status: 'published', generation: 1, previous_generation: 0, corrections: 1 });
    const rerun = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'reconcile:day' });
    expect(rerun).toMatchObject({ status: 'unchanged', generation: 1, corrections: 0 });
    const stored = await store.reconciliations(P, DAY);
    expect(stored.map((r) => [r.status, r.previous_generation, r.corrections])).toEqual([['published', 0, 1], ['unchanged', 1, 0]]);
    expect(stored[0]).toEqual(first);
    // What report and the API show: the publishing run's record, with the rerun as a note.
    expect(currentReconciliation(stored)).toEqual({ ...first, rechecked: { job_id: 'reconcile:day', reconciled_at: rerun.reconciled_at } });
    const other = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'nightly' });
    expect(currentReconciliation(await store.reconciliations(P, DAY))).toEqual({ ...first, rechecked: { job_id: 'nightly', reconciled_at: other.reconciled_at } });
  });

  it('reconcile: a pipeline with no realtime rows is refused as such; --force publishes despite unexplained differences', async () => {
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const lines = dayLines();
    await archiveLines(archiveDir, lines, 'file:day.jsonl');
    await expect(reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r0' })).rejects.toThrow(
      new NoRealtimeRowsError(P, DAY).message);
    expect(new NoRealtimeRowsError(P, DAY).message).toBe(`no realtime rows for ${P} on ${DAY}: stream it or reconcile only the others with --pipeline`);
    // A value nothing explains: the stream said 9 where every event says 1.
    const streamed = await streamLines(def, lines);
    const wrong: ResultRecord[] = streamed.changelog.map((r) => ((r as WindowResult).key.url === '/b' && (r as WindowResult).windowStart === T0 ? { ...(r as WindowResult), values: { views: 9 } } : r));
    await store.writeRealtime(wrong);
    const refused = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnexplainedDifferencesError);
    expect((refused as Error).message).toContain(`reconcile --date ${DAY} --pipeline ${P} --force`);
    expect((await store.status(P, DAY)).liveGeneration).toBe(0);
    const forced = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r2', force: true });
    expect(forced).toMatchObject({ status: 'published', generation: 1, report: { unexplained: 1 } });
    expect(views(await store.current(P, DAY)).slice(0, 2)).toEqual([[0, '/a', 1], [0, '/b', 1]]);
  });

  // The stream read one file and the archive was made from another (the day streamed from all.jsonl,
  // archived from its per-day file): late events matched the archive by position only, so every cell
  // they changed was UNEXPLAINED and nothing was published. Looked up by id and time, they explain it.
  it('reconcile: late events logged at positions of another file are found in the archive by id and time', async () => {
    const store = await fresh();
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    const lines = [...dayLines(), click('late-1', T0 + 2 * M + 5, '/a'), click('late-2', T0 + 3 * M + 5, '/b')];
    await archiveLines(archiveDir, lines, 'file:day-2026-11-23.jsonl');
    const streamed = await streamLines(def, lines); // read as file:input.jsonl
    expect(streamed.lates.map((l) => l.event.event_id)).toEqual(['late-1', 'late-2']);
    await store.writeRealtime(streamed.changelog);
    await store.appendLate(P, streamed.lates.map((record) => ({ record, evaluatedOnArrival: false })));
    const rec = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1' });
    expect(rec).toMatchObject({ status: 'published', report: { different: 2, unexplained: 0, causes: { late_beyond_lateness: 2 } } });
    expect(views(await store.current(P, DAY)).slice(4, 8)).toEqual([[2, '/a', 4], [2, '/b', 1], [3, '/a', 4], [3, '/b', 2]]);
  });

  // The report files were written after the switch: a report directory that could not be written failed
  // the job (and each retry) with the new version already live.
  it('reconcile: a report directory that cannot be written is refused before anything is published', async () => {
    const { store, archiveDir } = await streamedAndArchived();
    const reportDir = join(ws.dir, `reports-${randomUUID()}`);
    await writeFile(reportDir, 'a file where the directory goes');
    const refused = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r1', reportDir }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toContain(`the report directory ${join(reportDir, DAY)} cannot be written (`);
    expect((refused as Error).message).toContain('): pass another --report-dir');
    expect(await store.reconciliations(P, DAY)).toEqual([]);
    expect((await store.status(P, DAY)).liveGeneration).toBe(0);
  });

  it('reconcile: stream rows of another definition are refused (a changed filter is no stream outage), nothing published', async () => {
    const { store, archiveDir, streamed } = await streamedAndArchived();
    const filtered = { ...def, where: [{ field: 'url', op: '!=' as const, value: '/b' }] };
    const refused = await reconcileDay({ def: filtered, date: DAY, store, archiveDir, jobId: 'r1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DefinitionChangedError);
    expect((refused as Error).message).toBe(
      `${P} ${DAY}: the stream's rows were computed by definition version ${definitionVersion(def)} (${streamed.changelog.length} rows), the definitions give ${definitionVersion(filtered)}: ` +
      `reconcile compares a day with the definition that computed it (run it with that definition), or recompute the day under this one with \`concord backfill --from ${DAY} --to ${DAY} --pipeline ${P} --archive ${archiveDir}\``);
    expect(await store.reconciliations(P, DAY)).toEqual([]);
    expect((await store.status(P, DAY)).liveGeneration).toBe(0);
    expect(await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'r2' })).toMatchObject({ status: 'published' });
    // backfill --date under the changed definition mixed recomputed cells of the new definition with the
    // old one's (the day reconciled under the old): refused, whole days are recomputed with --from/--to.
    await store.markDirty(P, [{ day: DAY, windowStart: T0, key: { url: '/a' } }], 'late_after_reconcile');
    const mixed = await backfillDay({ def: filtered, date: DAY, store, archiveDir, jobId: 'bf1' }).catch((e: unknown) => e);
    expect(mixed).toBeInstanceOf(DefinitionChangedError);
    expect((mixed as Error).message).toMatch(new RegExp(`^${P} ${DAY}: the day's live rows were computed by definition version ${definitionVersion(def)} \\(\\d+ rows\\), the definitions give ${definitionVersion(filtered)}: backfill recomputes`));
    expect((await store.current(P, DAY)).every((r) => r.definitionVersion === definitionVersion(def))).toBe(true);
  });

  it('reconcile: a day the archive does not hold is refused as such, not called unexplained; odd pipeline names stay inside --report-dir', async () => {
    const names = ['plain/slash', '../../escaped'];
    const registry = new Registry([def.schema], names.map((name) => ({ ...def, name })), 'odd names');
    const store = await openStore(url(), { registry, schema: schemas.next('bf') });
    stores.push(store);
    const root = join(ws.dir, `reports-${randomUUID()}`);
    const reportDir = join(root, 'inside');
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await mkdir(archiveDir); // an archive without the day (a missing folder is said as such: backfill-archive-missing.test.ts)
    const lines = dayLines();
    for (const name of names) {
      const odd = { ...def, name };
      const streamed = await streamLines(odd, lines);
      await store.writeRealtime(streamed.changelog);
      const refused = await reconcileDay({ def: odd, date: DAY, store, archiveDir, jobId: `n-${name}`, reportDir }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NoArchivedDayError);
      expect((refused as Error).message).toBe(`no archived events for ${DAY} in ${archiveDir}: archive the day first`);
      expect(await store.reconciliations(name, DAY)).toEqual([]);
    }
    await archiveLines(archiveDir, lines, 'file:day.jsonl');
    for (const name of names) {
      const rec = await reconcileDay({ def: { ...def, name }, date: DAY, store, archiveDir, jobId: `r-${name}`, reportDir });
      expect(rec).toMatchObject({ status: 'published', corrections: 0 });
      expect(JSON.parse(await readFile(reportPath(reportDir, DAY, name, 'json'), 'utf8'))).toMatchObject({ pipeline: name, status: 'published' });
    }
    // Every report file is inside --report-dir/<date>, and nothing else was written beside it.
    expect((await readdir(join(reportDir, DAY))).sort()).toEqual([
      `${safeName('../../escaped')}.json`, `${safeName('../../escaped')}.md`, `${safeName('plain/slash')}.json`, `${safeName('plain/slash')}.md`,
    ].sort());
    expect(await readdir(root)).toEqual(['inside']);
  });
});

describe('reconcile through the CLI: options that exist, days with no realtime rows', () => {
  it('report --format json after `reconcile --date` ran twice: what the publishing run corrected, the rerun as a note', async () => {
    const store = `duckdb:${join(ws.dir, `${randomUUID()}.duckdb`)}`;
    const input = join(ws.dir, `day-${randomUUID()}.jsonl`);
    // A click beyond the stream's lateness: the first reconcile corrects one cell.
    await writeFile(input, [...dayLines(), click('late', T0 + 2 * M + 5, '/a')].join('\n') + '\n');
    const timing = ['--max-out-of-orderness', '1s', '--allowed-lateness', '0s'];
    expect(concord(['stream', '--pipeline', P, '--input', input, '--output', `${input}.out`, '--store', store, ...timing]).code).toBe(0);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    expect(concord(['archive', '--schema', 'clicks', '--input', input, '--dir', archiveDir]).code).toBe(0);
    const reconcile = () => concord(['reconcile', '--date', DAY, '--archive', archiveDir, '--store', store, '--pipeline', P, '--report-dir', join(ws.dir, `reports-${randomUUID()}`), ...timing]);
    expect(reconcile().stderr).toContain(`${P} ${DAY}: version 1 live (was 0), 1 cells corrected`);
    expect(reconcile().stderr).toContain(`${P} ${DAY}: version 1, live, already holds this replay: nothing changed`);
    const report = concord(['report', '--date', DAY, '--pipeline', P, '--store', store, '--format', 'json']);
    expect(report.code, report.stderr).toBe(0);
    const rec = (JSON.parse(report.stdout) as { pipelines: { reconciliation: Record<string, unknown> }[] }).pipelines[0]!.reconciliation;
    expect(rec).toMatchObject({ status: 'published', generation: 1, previous_generation: 0, corrections: 1, rechecked: { job_id: `reconcile:${P}:${DAY}` } });
  }, 120_000);

  it('--force is an option with help text; a pipeline with no realtime rows is reported as such (exit 2)', async () => {
    const help = concord(['reconcile', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout + help.stderr).toMatch(/--force\s+publish the replayed day even when some differences are unexplained/);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await archiveLines(archiveDir, dayLines(), 'file:day.jsonl');
    const r = concord(['reconcile', '--date', DAY, '--archive', archiveDir, '--store', `duckdb:${join(ws.dir, `${randomUUID()}.duckdb`)}`,
      '--pipeline', P, '--force', '--report-dir', join(ws.dir, 'reports')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`no realtime rows for ${P} on ${DAY}: stream it or reconcile only the others with --pipeline`);
    expect(r.stderr).not.toMatch(/Unknown option|missing_window|UNEXPLAINED/);
  }, 120_000);

  it('a day the archive does not hold: said per pipeline and skipped (exit 2), nothing called unexplained', async () => {
    const store = `duckdb:${join(ws.dir, `${randomUUID()}.duckdb`)}`;
    const input = join(ws.dir, `day-${randomUUID()}.jsonl`);
    await writeFile(input, dayLines().join('\n') + '\n');
    expect(concord(['stream', '--pipeline', P, '--input', input, '--output', `${input}.out`, '--store', store, '--max-out-of-orderness', '1s']).code).toBe(0);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    // An archive of another day only.
    await archiveLines(archiveDir, [click('other', T0 - 86_400_000)], 'file:other.jsonl');
    const r = concord(['reconcile', '--date', DAY, '--archive', archiveDir, '--store', store, '--pipeline', P, '--report-dir', join(ws.dir, 'reports')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${P}: no archived events for ${DAY} in ${archiveDir}: archive the day first`);
    expect(r.stderr).not.toMatch(/UNEXPLAINED|unexplained/);
  }, 120_000);
});

