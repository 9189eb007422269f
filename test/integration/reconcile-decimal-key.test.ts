import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { addedByCell, addedNearAlert } from '../../reconcile/archive-added.ts';
import { parseLateRow } from '../../reconcile/realtime-input.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import { cellKey, lateToJson, type AlertResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A key of a decimal field: events (the stream's, the archive's, the late logs') hold it in minor units,
// results in major units. Late events and repeated deliveries must still name the cells of the results,
// or every difference of such a pipeline is unexplained (real stream, DuckDB and Parquet).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const M = 60_000;
const timing = { max_out_of_orderness: 1000, allowed_lateness: 0 };
const defs = parseDefinitions({
  schemas: { pay: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', amt: 'decimal(2)', c: 'string' } } },
  pipelines: {
    'by amt': { input: 'pay', key: ['amt'], window: { tumbling: '1m' }, aggregates: { n: 'count' }, ...timing },
    'by c amt': { input: 'pay', key: ['c', 'amt'], window: { tumbling: '1m' }, aggregates: { n: 'count' }, ...timing },
    'by amt sketch': { input: 'pay', key: ['amt'], window: { tumbling: '1m' }, aggregates: { n: 'count', cs: ['approx_distinct', 'c'] }, ...timing },
    'by amt hopping': { input: 'pay', key: ['amt'], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, ...timing },
    'rule amt': { input: 'pay', key: 'amt', rule: { within: '1m', distinct: 'c', more_than: 1, output: 'cs' }, ...timing },
  },
}, 'x');
const pay = (id: string, ts: number, amt: number | string, c = 'a') => JSON.stringify({ id, ts, amt, c });
let n = 0;

async function archive(def: PipelineDefinition, lines: string[]): Promise<string> {
  const dir = join(ws.dir, `a${n++}`);
  const sketched = def.kind === 'windowed' ? def.aggregates.flatMap((a) => (a.aggregate.kind === 'approx_distinct' ? [a.aggregate.field] : [])) : [];
  await new ParquetArchive(dir, def.schema, { sketched }).write(memoryBatches('file:input.jsonl', lines, 1000));
  return dir;
}

/**
 * The three ways reconcile learns what was late: re-running the stream over the archive (a file), the
 * workers' log as the store keeps it, and as `results --late-output` writes it (decimals in major units).
 */
async function reconcileEveryWay(def: PipelineDefinition, lines: string[]) {
  const streamed = await streamLines(def, lines);
  const dir = await archive(def, lines);
  const logged: LoggedLate[] = streamed.lates.map((record) => ({ record, evaluatedOnArrival: false }));
  const written = streamed.lates.map((l, i) => parseLateRow(def, JSON.parse(JSON.stringify({ ...lateToJson(l, def.schema), source: l.position.source, offset: l.position.offset })) as Record<string, unknown>, `line ${i + 1}`)!);
  return {
    streamed,
    reports: [
      await reconcile({ def, realtime: streamed.changelog, archiveDir: dir }),
      await reconcile({ def, realtime: streamed.changelog, archiveDir: dir, lateLog: logged }),
      await reconcile({ def, realtime: streamed.changelog, archiveDir: dir, lateLog: written }),
    ],
  };
}

describe('reconcile: a key of a decimal field is explained like any other key', () => {
  // e4 and e5 come after e3 moved W past the first minute: late beyond lateness, each for its own key.
  const late = [pay('e1', 1_000, 1.5), pay('e2', 2_000, '2.25', 'b'), pay('e3', 3 * M, 1.5), pay('e4', 1_500, '1.50'), pay('e5', 1_600, 2.25, 'b')];

  for (const name of ['by amt', 'by c amt', 'by amt sketch']) {
    it(`${name}: the late events explain their cells`, async () => {
      const { streamed, reports } = await reconcileEveryWay(defs.pipeline(name), late);
      expect(streamed.lates).toHaveLength(2);
      for (const report of reports) {
        expect(report).toMatchObject({ different: 2, unexplained: 0, causes: { late_beyond_lateness: 2 } });
        expect(report.differences.map((d) => [d.cell.amt, d.late_events.map((e) => e.id)])).toEqual([[1.5, ['e4']], [2.25, ['e5']]]);
      }
    });
  }

  it('by amt hopping: a late event explains each of its windows', async () => {
    const { reports } = await reconcileEveryWay(defs.pipeline('by amt hopping'), [pay('e1', M + 1_000, 1.5), pay('e2', 4 * M, 1.5), pay('e3', M + 1_500, '1.50')]);
    for (const report of reports) {
      expect(report).toMatchObject({ different: 2, unexplained: 0, causes: { late_beyond_lateness: 2 } });
      expect(report.differences.map((d) => [d.cell.window_start, d.cell.amt, d.late_events.map((e) => e.id)])).toEqual([
        ['1970-01-01T00:00:00.000Z', 1.5, ['e3']], ['1970-01-01T00:01:00.000Z', 1.5, ['e3']]]);
    }
  });

  it('rule amt: a dropped late event explains the alert the stream did not raise', async () => {
    const { streamed, reports } = await reconcileEveryWay(defs.pipeline('rule amt'), [pay('e1', 1_000, 1.5), pay('e2', 3 * M, 1.5), pay('e3', 10_000, '1.50', 'b')]);
    expect(streamed.lates).toHaveLength(1);
    for (const report of reports) {
      expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } });
      expect(report.differences[0]).toMatchObject({ realtime: null, cause: 'late_beyond_lateness', late_events: [{ id: 'e3' }] });
    }
  });

  it('duplicates: a repeated delivery explains its cell, windows and rule alike', async () => {
    const windowed = defs.pipeline('by amt');
    const twice = [pay('e1', 1_000, 1.5), pay('e2', 2_000, 2.25), pay('e1', 1_000, '1.50'), pay('e3', 3 * M, 1.5)];
    const w = await reconcileEveryWay(windowed, twice);
    for (const report of w.reports) expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { duplicate: 1 }, evidence: { duplicates: 1 } });
    // e2's second delivery (c = b) raises an alert the deduplicated replay does not.
    const r = await reconcileEveryWay(defs.pipeline('rule amt'), [pay('e1', 1_000, 1.5), pay('e2', 2 * M, '1.50'), pay('e2', 2 * M + 10_000, 1.5, 'b')]);
    for (const report of r.reports) {
      expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { duplicate: 1 } });
      expect(report.differences[0]).toMatchObject({ realtime: { cs: ['a', 'b'] }, replay: null });
    }
  });

  it('parse_reject: rejected records (their decimals as written) are placed in their cell', async () => {
    const def = defs.pipeline('by amt');
    // c must be a string; the amounts as written in the input, as text and as a number.
    const bad = [JSON.stringify({ id: 'x1', ts: 1_500, amt: '1.50', c: 7 }), JSON.stringify({ id: 'x2', ts: 1_600, amt: 1.5, c: 8 })];
    const lines = [pay('e1', 1_000, 1.5), ...bad, pay('e3', 3 * M, 1.5)];
    const streamed = await streamLines(def, [pay('e1', 1_000, 1.5), pay('e3', 3 * M, 1.5)]);
    // The stream accepted both records (another schema version): its first cell counted 3.
    const realtime = streamed.changelog.map((r) => (r.kind === 'window' && r.windowStart === 0 ? { ...r, values: { n: 3 } } : r));
    const report = await reconcile({ def, realtime, archiveDir: await archive(def, lines) });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { parse_reject: 1 }, evidence: { dead_letters: 2 } });
  });

  it('archive_added: an event archived after the reconcile is found by the cell of its results', async () => {
    const lines = [pay('e1', 1_000, 1.5, 'a'), pay('e2', 2_000, 1.5, 'b')];
    const windowed = defs.pipeline('by amt'), rule = defs.pipeline('rule amt');
    if (windowed.kind !== 'windowed' || rule.kind !== 'rule') throw new Error('unexpected kinds');
    // As the archive holds it: 1.5 as 150 minor units.
    const archived = { table: 'archive_added', events: [{ event: { id: 'e2', ts: 2_000, amt: 150, c: 'b' }, position: { source: 'file:late.jsonl', offset: 0 } }] };
    const [cell] = (await streamLines(windowed, lines)).final;
    expect(addedByCell(windowed, archived).get(cellKey(cell!))?.map((e) => e.id)).toEqual(['e2']);
    const [alert] = (await streamLines(rule, lines)).final as AlertResult[];
    expect(addedNearAlert(rule, archived)(alert!.key, alert!.ts).map((e) => e.id)).toEqual(['e2']);
  });
});
