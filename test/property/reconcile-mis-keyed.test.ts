import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { fraudMultiCountry, pageViewsPerMinute } from '../../examples/seed.ts';
import { checkDefinition, type PipelineDefinition } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import { formatSummary } from '../../reconcile/summary.ts';
import { cellKey, type LateRecord, type ResultRecord } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import type { LineBatch } from '../../sources/source.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { clickStreamArb, transactionStreamArb } from '../fixtures/arbitraries.ts';
import { onFreshConnection } from '../fixtures/fresh-connection.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A topic not keyed by the schema's `key` field (a producer sending no record key: each record in a
// partition at random), read by pipelines keyed by that field, which the workers compute per partition
// (no merge stage): each partition's operator counts its share of a key, and in the compacted results
// topic the last share written replaces the others. Reconcile names every such difference `mis_keyed`,
// with the partitions the cell's events lie in (the stream's share first); before, they were `unexplained`.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(15, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 8));
const PARTITIONS = 3;
const sourceOf = (p: number) => `input:${p}`;
let runNo = 0;

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** Per partition one operator, in offset order; the results topic compacted (the last row written per cell wins). */
function workers(def: PipelineDefinition, partitions: readonly Record<string, unknown>[][]): { realtime: ResultRecord[]; late: LoggedLate[] } {
  const written = new Map<string, ResultRecord>();
  const late: LoggedLate[] = [];
  partitions.forEach((events, p) => {
    const op = createOperator(def, {
      result: (r) => written.set(cellKey(r), r),
      late: (l: LateRecord) => late.push({ record: l, evaluatedOnArrival: false }),
      lateAccepted: (l: LateRecord) => late.push({ record: l, evaluatedOnArrival: true }),
      skipped: () => undefined,
    });
    events.forEach((event, offset) => op.process(event as AnyEvent, { source: sourceOf(p), offset }));
    op.finish();
  });
  return { realtime: [...written.values()], late };
}

// Rules: late events too, some evaluated on arrival against their own partition's W (each share is re-run
// with those verdicts); before, the alerts those changed stayed unexplained (one run in ~20).
// Hopping windows: an event late for some of its windows only is skipped by those (a share's operator too).
const hoppingViews = checkDefinition({ ...pageViewsPerMinute, name: 'page_views_2m_every_1m', window: hopping(120_000, 60_000) });
const cases = [
  { def: pageViewsPerMinute as PipelineDefinition, key: 'url', events: clickStreamArb({ maxEvents: 150, disorder: 'beyond' }) },
  { def: hoppingViews, key: 'url', events: clickStreamArb({ maxEvents: 150, disorder: 'beyond' }) },
  { def: fraudMultiCountry() as PipelineDefinition, key: 'user_id', events: transactionStreamArb({ maxEvents: 150, disorder: 'beyond' }) },
];

describe.each(cases)('property: reconcile of $def.name over a topic not keyed by $key', ({ def, events: eventsArb }) => {
  it(`names every difference mis_keyed, none unexplained (${RUNS} runs)`, async () => {
    let misKeyed = 0, onArrival = 0;
    await fc.assert(
      fc.asyncProperty(eventsArb, fc.infiniteStream(fc.nat(PARTITIONS - 1)), async (events, placement) => {
        const partitions: Record<string, unknown>[][] = Array.from({ length: PARTITIONS }, () => []);
        for (const e of events) partitions[placement.next().value]!.push(e);
        const { realtime, late } = workers(def, partitions);
        onArrival += late.filter((l) => l.evaluatedOnArrival).length;
        let ingest = Math.max(0, ...events.map((e) => Number(e.ts))) + 1_000;
        const batches: LineBatch[] = partitions.map((list, p) => ({
          source: sourceOf(p), firstOffset: 0, offsets: list.map((_, i) => i), lines: list.map((e) => JSON.stringify(e)), ingestTimes: list.map(() => ingest++),
        }));
        const dir = join(ws.dir, `run-${runNo++}`);
        await new ParquetArchive(dir, def.schema).write(asAsync(batches.filter((b) => b.lines.length > 0)));

        for (const report of [await onFreshConnection((db) => reconcile({ def, realtime, archiveDir: dir, lateLog: late, db })), await onFreshConnection((db) => reconcile({ def, realtime, archiveDir: dir, db }))]) {
          expect(report.unexplained).toBe(0);
          for (const d of report.differences.filter((x) => x.cause === 'mis_keyed')) {
            expect(new Set(d.partitions).size).toBeGreaterThanOrEqual(2);
            expect(d.partitions!.every((s) => /^input:\d$/.test(s))).toBe(true);
          }
          if (report.causes.mis_keyed > 0) expect(formatSummary([report])).toContain('key the records by that field');
          misKeyed += report.causes.mis_keyed;
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    // The property is not vacuous: shares did differ from the whole.
    expect(misKeyed).toBeGreaterThan(0);
    if (def.kind === 'rule') expect(onArrival).toBeGreaterThan(0);
  }, 600_000);
});
