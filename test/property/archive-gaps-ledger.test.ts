import fc from 'fast-check';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { offsetsDir, partitionGlob } from '../../batch/archive-layout.ts';
import { DuckDb, quoteString } from '../../batch/duckdb.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { checkDefinition, type PipelineDefinition } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { findGaps, readRejected } from '../../reconcile/evidence.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import type { ReconcileReport } from '../../reconcile/reconcile-report.ts';
import type { LineBatch } from '../../sources/source.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The nightly reconcile counts archive gaps from a ledger of archived offsets kept up to date day by
// day (batch/archive-offsets.ts) instead of every offset of the archive. Over random multi-day archives of
// two Kafka-like sources (offsets missing, repeated deliveries, late events, dead letters, a file moved
// out now and then), each day's report equals the report made from every file (the ledger removed), and
// the gap count equals the whole-archive count the old code made (min, max and distinct offsets per source).
// The day's replay reads the files of the day's hours only: its differences are those of a reconcile
// without a range (every file, every window) in the day's windows; hopping windows with the late log
// judge their skipped windows from the day's hours on. Page views (a cell table), unique visitors
// (sketches: records) and hopping page views, with the stream's late log and without.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(5, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 40));
const PIPELINES = [pageViewsPerMinute, uniqueVisitors5m(), checkDefinition({ ...pageViewsPerMinute, name: 'page_views_2m_every_1m', window: hopping(120_000, 60_000) })];
const DAY = 86_400_000, T0 = Date.UTC(2026, 10, 20);
let runNo = 0;

/** The old count: per source, last - first + 1 - distinct offsets - rejected and blank offsets inside. */
async function wholeArchiveGaps(def: PipelineDefinition, dir: string, db: DuckDb): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if ((await listArchiveFiles(dir, def.schema)).length === 0) return out;
  const c = await db.columns(`SELECT _source AS s, min(_offset) AS a, max(_offset) AS b, count(DISTINCT _offset) AS n
    FROM read_parquet(${quoteString(partitionGlob(dir, def.schema))}, hive_partitioning = false) GROUP BY _source`);
  const rejected = await readRejected(dir, def.schema);
  (c.s ?? []).forEach((s, i) => {
    const a = Number(c.a![i]), b = Number(c.b![i]);
    const inside = new Set(rejected.filter((r) => r.source === s && r.offset > a && r.offset < b).map((r) => r.offset)).size;
    const missing = b - a + 1 - Number(c.n![i]) - inside;
    if (missing > 0) out.set(String(s), missing);
  });
  return out;
}

const lineArb = fc.record({
  // minutes of three hours of the day, out of order within each (the last one's windows reach the next day)
  minute: fc.tuple(fc.constantFrom(0, 5, 23), fc.integer({ min: 0, max: 20 })).map(([h, m]) => h * 60 + m + (h === 23 ? 39 : 0)),
  second: fc.integer({ min: 0, max: 59 }),
  url: fc.constantFrom('/a', '/b', '/c'),
  // what the line is: an event, an event the archive lacks (a gap), a repeat of the previous event, a dead letter, a day late
  // 'behind': 7 minutes behind its partition's latest event (late for one of a hopping event's windows, or both)
  kind: fc.constantFrom('event', 'event', 'event', 'gap', 'repeat', 'bad', 'late', 'behind', 'behind'),
});

describe.each(PIPELINES.flatMap((def) => [false, true].map((withLog) => ({ def, withLog }))))('archive gaps from the ledger of offsets: $def.name, late log $withLog', ({ def, withLog }) => {
  it('each day\'s report equals the whole-archive one', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.array(fc.array(lineArb, { maxLength: 25 }), { minLength: 2, maxLength: 2 }), { minLength: 3, maxLength: 3 }), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), async (days, moveOut) => {
      const dir = join(ws.dir, `run-${runNo++}`);
      const seen: string[] = [];
      const next = [0, 0], latest = [T0, T0];
      const archived: { day: number; batch: LineBatch }[] = [];
      for (const [d, sources] of days.entries()) {
        for (const [p, items] of sources.entries()) {
          const lines: string[] = [], offsets: number[] = [];
          let last = '';
          for (const [i, it] of items.entries()) {
            const at = T0 + d * DAY + it.minute * 60_000 + it.second * 1_000;
            const ts = it.kind === 'late' ? at - DAY : it.kind === 'behind' ? latest[p]! - 7 * 60_000 : at;
            if (it.kind !== 'bad') latest[p] = Math.max(latest[p]!, ts);
            const line = it.kind === 'bad' ? '{"event_id": 1' : it.kind === 'repeat' && last !== '' ? last : JSON.stringify({ event_id: `e${d}-${p}-${i}`, ts, url: it.url, visitor_id: 'v' });
            const offset = next[p]!++;
            seen.push(line);
            if (it.kind !== 'bad') last = line;
            if (it.kind !== 'gap') { lines.push(line); offsets.push(offset); }
          }
          if (lines.length > 0) archived.push({ day: d, batch: { source: `clicks:${p}`, firstOffset: offsets[0]!, lines, offsets } });
        }
      }
      const streamed = await streamLines(def, seen.filter((l) => !l.startsWith('{"event_id": 1')));
      const realtime = streamed.changelog;
      const lateLog: LoggedLate[] | undefined = withLog ? streamed.lates.map((record) => ({ record, evaluatedOnArrival: false })) : undefined;
      const dayOf = (report: ReconcileReport, range: { from: number; to: number }) => report.differences.filter((x) => {
        const t = Date.parse(String(x.cell.window_start));
        return t >= range.from && t < range.to;
      });
      const db = await DuckDb.open();
      try {
        for (let d = 0; d < days.length; d++) {
          for (const { batch } of archived.filter((a) => a.day === d)) {
            const stem = `clicks_${batch.source.slice(-1)}-${batch.offsets![0]}-${batch.offsets!.at(-1)}`;
            await new ParquetArchive(dir, def.schema).write((async function* () { yield batch; })(), { mode: 'append', stem });
          }
          // A file moved out now and then (as a check moves a corrupt one to _corrupt/): its day read again.
          const files = await listArchiveFiles(dir, def.schema);
          if (moveOut[d] && files.length > 1) await rename(files[0]!, join(dir, `moved-${d}.parquet`));
          if ((await listArchiveFiles(dir, def.schema)).length === 0) continue;
          const range = { from: T0 + d * DAY, to: T0 + (d + 1) * DAY };
          const log = lateLog ? { lateLog } : {};
          const fromLedger = await reconcile({ def, realtime, archiveDir: dir, range, ...log });
          expect(await findGaps(dir, def.schema, db, await readRejected(dir, def.schema))).toEqual(await wholeArchiveGaps(def, dir, db));
          expect(fromLedger.differences).toEqual(dayOf(await reconcile({ def, realtime, archiveDir: dir, ...log }), range));
          // The same reconcile from every file (no ledger), then the day-by-day ledger put back for the next day.
          const ledger = join(offsetsDir(dir, def.schema), 'ledger.json'), kept = `${ledger}.kept`;
          await rename(ledger, kept);
          const fromEveryFile = await reconcile({ def, realtime, archiveDir: dir, range, ...log });
          await rename(kept, ledger);
          expect(fromLedger).toEqual(fromEveryFile);
          expect(fromLedger.evidence.archive_gaps).toBe([...(await wholeArchiveGaps(def, dir, db)).values()].reduce((a, b) => a + b, 0));
        }
      } finally {
        db.close();
      }
    }), { numRuns: RUNS });
  }, 300_000);
});
