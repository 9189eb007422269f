import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { checkDefinition, type PipelineDefinition } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { archiveJudgement } from '../../reconcile/partition-lateness.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import type { LateRecord, ResultRecord } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import type { LineBatch } from '../../sources/source.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { clickStreamArb, transactionStreamArb } from '../fixtures/arbitraries.ts';
import { onFreshConnection } from '../fixtures/fresh-connection.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An archive of a Kafka topic (sources `topic:partition`, the archiver's ingest order interleaving the
// partitions at random) reconciled without the workers' late log: reconcile rebuilds the late set from
// each partition's own order, as the workers judge it (docs/semantics.md, "Over Kafka"), so every
// difference is attributed and the report equals the one made with the workers' log. Judged in ingest
// order against the minimum W over partitions instead (the rule before per-partition lateness), a
// partition read far ahead of another kept its late events "on time" and left differences unexplained.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
// The reconciles read on fresh connections to one database for the file (fresh-connection.ts).
// archiveJudgement opens its own: given a connection it plans candidate files first, another path than the one checked here.
const RUNS = Math.max(20, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 5));
const sourceOf = (p: number) => `input:${p}`;
let runNo = 0;

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** The workers: per partition (the input is keyed by the pipeline's key) one operator judging by its own W, in offset order. */
function workers(def: PipelineDefinition, partitions: readonly Record<string, unknown>[][]): { realtime: ResultRecord[]; late: LoggedLate[]; skipped: LateRecord[] } {
  const realtime: ResultRecord[] = [];
  const late: LoggedLate[] = [];
  const skipped: LateRecord[] = [];
  partitions.forEach((events, p) => {
    const op = createOperator(def, {
      result: (r) => realtime.push(r),
      late: (l: LateRecord) => late.push({ record: l, evaluatedOnArrival: false }),
      lateAccepted: (l: LateRecord) => late.push({ record: l, evaluatedOnArrival: true }),
      skipped: (l: LateRecord) => skipped.push(l),
    });
    events.forEach((event, offset) => op.process(event as AnyEvent, { source: sourceOf(p), offset }));
    op.finish();
  });
  return { realtime, late, skipped };
}

/** A judged or logged event as compared: where it is, what W it met, which window, evaluated on arrival. */
const judgedRow = (l: { position: { source: string; offset: number }; watermark: number; windowStart?: number }, onArrival: boolean) =>
  `${l.position.source}@${l.position.offset}|${l.watermark}|${l.windowStart ?? ''}|${onArrival}`;

// Hopping windows: an event falls in several windows, and may be late for the older ones only.
const hoppingViews = checkDefinition({ ...pageViewsPerMinute, name: 'page_views_2m_every_1m', window: hopping(120_000, 60_000) });
// A sketch (replayed to records, not to a cell table: the other shadow path), keyed by the partition key as the workers' direct path is.
const hoppingVisitors = checkDefinition({ ...uniqueVisitors5m(), name: 'visitors_2m_every_1m', key: ['url'], window: hopping(120_000, 60_000) });
// Windows with an offset (starting at :35 of each minute): the archive's judgement and the reconciliation align them as the workers do.
const offsetViews = checkDefinition({ ...pageViewsPerMinute, name: 'page_views_2m_every_1m_at_35s', window: hopping(120_000, 60_000, -25_000) });

// One partition: an archive of one source, reconciled without the log by re-running the stream over it.
const cases = [
  { def: pageViewsPerMinute as PipelineDefinition, key: 'url', partitions: 3, events: clickStreamArb({ maxEvents: 200, disorder: 'beyond' }) },
  { def: hoppingViews, key: 'url', partitions: 3, events: clickStreamArb({ maxEvents: 200, disorder: 'beyond' }) },
  { def: hoppingViews, key: 'url', partitions: 1, events: clickStreamArb({ maxEvents: 200, disorder: 'beyond' }) },
  { def: offsetViews, key: 'url', partitions: 3, events: clickStreamArb({ maxEvents: 200, disorder: 'beyond' }) },
  { def: hoppingVisitors, key: 'url', partitions: 3, events: clickStreamArb({ maxEvents: 200, disorder: 'beyond' }) },
  { def: fraudMultiCountry() as PipelineDefinition, key: 'user_id', partitions: 3, events: transactionStreamArb({ maxEvents: 200, disorder: 'beyond' }) },
];

describe.each(cases)('property: reconcile of an archive of $def.name in $partitions partition(s) without the late log', ({ def, key, partitions: PARTITIONS, events: eventsArb }) => {
  it(`attributes every difference, as with the workers' log (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        eventsArb,
        // The archiver's interleaving: which partition's next slice is archived next, and how long it is.
        fc.array(fc.record({ partition: fc.nat(PARTITIONS - 1), length: fc.integer({ min: 1, max: 60 }) }), { maxLength: 40 }),
        async (events, slices) => {
          const partitions: Record<string, unknown>[][] = Array.from({ length: PARTITIONS }, () => []);
          for (const e of events) partitions[[...String(e[key])].reduce((h, c) => h * 31 + c.charCodeAt(0), 7) % PARTITIONS]!.push(e);
          const { realtime, late, skipped } = workers(def, partitions);

          const batches: LineBatch[] = [];
          const next = partitions.map(() => 0);
          // Record timestamps after every event time (an event ahead of its record's time by more than
          // max_future_skew would be quarantined), increasing in the archiver's order.
          let ingest = Math.max(0, ...events.map((e) => Number(e.ts))) + 1_000;
          const take = (p: number, length: number) => {
            const from = next[p]!, to = Math.min(partitions[p]!.length, from + length);
            if (to <= from) return;
            const offsets = Array.from({ length: to - from }, (_, i) => from + i);
            batches.push({ source: sourceOf(p), firstOffset: from, offsets, lines: partitions[p]!.slice(from, to).map((e) => JSON.stringify(e)), ingestTimes: offsets.map(() => ingest++) });
            next[p] = to;
          };
          for (const s of slices) take(s.partition, s.length);
          for (let p = 0; p < PARTITIONS; p++) take(p, Number.MAX_SAFE_INTEGER);
          const dir = join(ws.dir, `run-${runNo++}`);
          await new ParquetArchive(dir, def.schema).write(asAsync(batches));

          // The archive's judgement (each partition's W computed in DuckDB, readLateCandidates) is the workers' own.
          const judged = await archiveJudgement(dir, def);
          expect(judged.late.map((l) => judgedRow({ ...l, windowStart: l.window?.start }, l.evaluatedOnArrival)).sort())
            .toEqual(late.map((l) => judgedRow(l.record, l.evaluatedOnArrival)).sort());
          // The operator reports every window it skipped; those of an event late for all of them are the late event's.
          const lateAt = new Set(late.map((l) => `${l.record.position.source}@${l.record.position.offset}`));
          const partlySkipped = skipped.filter((l) => !lateAt.has(`${l.position.source}@${l.position.offset}`));
          expect(judged.skippedWindows.map((l) => judgedRow({ ...l, windowStart: l.window?.start }, false)).sort()).toEqual(partlySkipped.map((l) => judgedRow(l, false)).sort());

          const rebuilt = await onFreshConnection((db) => reconcile({ def, realtime, archiveDir: dir, db }));
          const logged = await onFreshConnection((db) => reconcile({ def, realtime, archiveDir: dir, lateLog: late, db }));
          expect(rebuilt.unexplained).toBe(0);
          expect(rebuilt.late_events).toBe(late.filter((l) => !l.evaluatedOnArrival).length);
          expect(rebuilt.causes).toEqual(logged.causes);
          expect(rebuilt.differences).toEqual(logged.differences);
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 600_000);
});
