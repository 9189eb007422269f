import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { isoMillis } from '../../pipeline/time.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { clickStreamArb, DAY, toJsonl } from '../fixtures/arbitraries.ts';
import { onFreshConnection } from '../fixtures/fresh-connection.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The windowed diff runs in SQL (reconcile/cell-diff.ts); this checks its counts, metrics and the set
// and order of differing cells against a plain-JS diff of the same sides, over realtime changelogs
// changed at random: dropped cells, changed values, stale revisions, ties, cells the replay lacks (with
// keys whose UTF-8 and UTF-16 orders differ), duplicate deliveries, and a dashboard read.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
let runNo = 0;
const RUNS = Math.max(20, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 4));

type Op = 'keep' | 'drop' | 'bump' | 'stale' | 'tie';
const opArb = fc.constantFrom<Op>('keep', 'keep', 'keep', 'drop', 'bump', 'stale', 'tie');
const GHOST_KEYS = ['/ghost', '/é', '/\u{1F600}', '/\uFF5E', '/日本'];
const ghostArb = fc.record({ minute: fc.integer({ min: -30, max: 60 }), key: fc.integer({ min: 0, max: GHOST_KEYS.length - 1 }), value: fc.integer({ min: 1, max: 9 }) });
const readArb = fc.constantFrom<'none' | 'same' | 'other'>('none', 'none', 'same', 'other');

const cellId = (r: WindowResult, keyField: string | undefined) => `${r.windowStart}\u0000${keyField ? String(r.key[keyField]) : ''}`;

/** Highest revision per cell, the later record on ties. */
function finalOf(records: readonly WindowResult[], keyField: string | undefined): Map<string, WindowResult> {
  const out = new Map<string, WindowResult>();
  for (const r of records) {
    const seen = out.get(cellId(r, keyField));
    if (!seen || r.revision >= seen.revision) out.set(cellId(r, keyField), r);
  }
  return out;
}

const sameValues = (a: WindowResult, b: WindowResult) => JSON.stringify(Object.entries(a.values).sort()) === JSON.stringify(Object.entries(b.values).sort());

const pipelines = [
  { def: pageViewsPerMinute as WindowedPipeline, keyField: 'url' as const, output: 'views' },
  { def: uniqueVisitors5m() as WindowedPipeline, keyField: undefined, output: 'visitors' },
];

describe.each(pipelines)('property: the SQL diff of $def.name equals a plain-JS diff', ({ def, keyField, output }) => {
  it(`counts, metrics, differing cells and their order (${RUNS} runs)`, async () => {
    const size = def.window.size;
    await fc.assert(
      fc.asyncProperty(
        clickStreamArb({ maxEvents: 120 }), fc.array(opArb, { maxLength: 200 }), fc.array(ghostArb, { maxLength: keyField ? 6 : 0 }),
        fc.array(readArb, { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 3 }),
        async (events, ops, ghosts, reads, dupPicks) => {
          // Repeated deliveries: the stream counts them, the (deduplicating) replay once.
          const lines = toJsonl([...events, ...dupPicks.map((i) => events[i % events.length]!)]);
          const streamed = await streamLines(def, lines);
          const dir = join(ws.dir, `run-${runNo++}`);
          await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', lines, 1000));
          const final = streamed.final as WindowResult[];
          const realtime: WindowResult[] = [...(streamed.changelog as WindowResult[])];
          const read: WindowResult[] = [];
          final.forEach((r, i) => {
            const op = ops[i] ?? 'keep';
            const bumped = { ...r, revision: r.revision + 1, values: { ...r.values, [output]: (r.values[output] ?? 0) + 1 + (i % 3) } };
            if (op === 'drop') realtime.splice(0, realtime.length, ...realtime.filter((x) => cellId(x, keyField) !== cellId(r, keyField)));
            else if (op === 'bump') realtime.push(bumped);
            else if (op === 'stale') realtime.push({ ...bumped, revision: r.revision - 1 }); // older: must not win
            else if (op === 'tie') realtime.push({ ...bumped, revision: r.revision }); // same revision: the later record wins
            const how = reads[i] ?? 'none';
            if (how !== 'none') read.push(how === 'same' ? r : { ...r, values: { ...r.values, [output]: (r.values[output] ?? 0) + 5 } });
          });
          for (const g of ghosts) {
            const start = DAY + g.minute * size;
            realtime.push({ ...final[0]!, windowStart: start, windowEnd: start + size, key: { url: GHOST_KEYS[g.key]! }, values: { [output]: g.value }, revision: 0 });
          }
          const report = await onFreshConnection((db) => reconcile({ def, realtime, archiveDir: dir, db, ...(read.length > 0 ? { dashboardRead: read } : {}) }));

          const rt = finalOf(realtime, keyField);
          const rp = finalOf((await onFreshConnection((db) => replay(def, dir, { dedupe: true, exactDistinct: false, db }))) as WindowResult[], keyField);
          const rd = finalOf(read, keyField);
          const cells = new Set([...rt.keys(), ...rp.keys()]);
          const differing: string[] = [];
          let mismatched = 0, missing = 0, extra = 0, absolute = 0, total = 0;
          for (const id of cells) {
            const a = rt.get(id), b = rp.get(id), shown = rd.get(id);
            const same = a !== undefined && b !== undefined && sameValues(a, b);
            if (!same || (shown !== undefined && !sameValues(shown, a!))) differing.push(id);
            if (!a) missing++;
            else if (!b) extra++;
            else if (!same) mismatched++;
            const x = Number(a?.values[output] ?? 0), y = Number(b?.values[output] ?? 0);
            absolute += Math.abs(x - y);
            total += x + y;
          }
          // Window order, then key order as JS (UTF-16) strings.
          differing.sort((x, y) => parseFloat(x) - parseFloat(y) || (x < y ? -1 : x > y ? 1 : 0));
          expect(report.cells).toBe(cells.size);
          expect(report.different).toBe(differing.length);
          expect(report.equal).toBe(cells.size - differing.length);
          expect(report.metrics).toEqual({
            realtime_cells: rt.size, replay_cells: rp.size, mismatched, missing, extra,
            mismatch_rate: cells.size === 0 ? 0 : (mismatched + missing + extra) / cells.size,
            smape: total === 0 ? 0 : absolute / total,
          });
          const expectedCells = differing.map((id) => {
            const r = (rt.get(id) ?? rp.get(id))!;
            return { window_start: isoMillis(r.windowStart), window_end: isoMillis(r.windowEnd), ...r.key };
          });
          expect(report.differences.map((d) => d.cell)).toEqual(expectedCells);
          expect(report.evidence.duplicates).toBe(dupPicks.length);
        }),
      { numRuns: RUNS, interruptAfterTimeLimit: 200_000, markInterruptAsFailure: true },
    );
  }, 300_000);
});
