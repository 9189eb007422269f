import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { finalResults } from '../../reconcile/final-results.ts';
import { resultToJson } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A rule's sum of a `double` field decides "more than T" on the sum's last bits: the stream adds a frame
// left to right in (ts, id) order, DuckDB's window sum in an order of its own. 0.1 + 0.2 + 0.3 is
// 0.6000000000000001 one way and 0.6 another: the stream alerted at "more than 0.6", the replay did not,
// with no late data (reconcile: unexplained, nothing published). The replay now adds in the stream's order.
const ws = tempWorkspace('concord-rule-dsum-');
afterAll(() => ws.cleanup());
let n = 0;

const defsOf = (threshold: number) => parseDefinitions({
  schemas: { tx: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', user: 'string', d: 'double?' } } },
  pipelines: { spend: { input: 'tx', key: 'user', rule: { within: '10s', sum: 'd', more_than: threshold, output: 'total' }, max_out_of_orderness: 0, allowed_lateness: 0 } },
}, 'x').pipeline('spend');

async function bothWays(threshold: number, lines: string[]) {
  const def = defsOf(threshold);
  const streamed = await streamLines(def, lines);
  const dir = join(ws.dir, `a${n++}`);
  await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', lines, 1000));
  // The alert and its total (the stream's rows carry the W they fired at, the replay's none).
  const json = (rs: Iterable<unknown>) => [...rs].map((r) => { const { user, id, ts, total } = resultToJson(r as never) as Record<string, unknown>; return JSON.stringify({ user, id, ts, total }); });
  return { stream: json(finalResults(streamed.changelog).values()), replay: json(finalResults(await replay(def, dir)).values()), lates: streamed.lates.length };
}

describe('rule sums of a double field: the replay decides as the stream adds', () => {
  it('0.1 + 0.2 + 0.3 at "more than 0.6": both alert, with the same total', async () => {
    const lines = [{ id: 'a', ts: 0, d: 0.1 }, { id: 'b', ts: 1000, d: 0.2 }, { id: 'c', ts: 1000, d: 0.3 }].map((e) => JSON.stringify({ ...e, user: 'u' }));
    const r = await bothWays(0.6, lines);
    expect(r.stream).toHaveLength(1);
    expect(JSON.parse(r.stream[0]!)).toMatchObject({ id: 'c', total: 0.1 + 0.2 + 0.3 }); // 0.6000000000000001
    expect(r.replay).toEqual(r.stream);
  });

  it('random cents as doubles, thresholds on round sums, ties in time: the same alerts and totals', async () => {
    const event = fc.record({ t: fc.integer({ min: 0, max: 40 }), user: fc.constantFrom('u1', 'u2'),
      d: fc.option(fc.constantFrom(0.1, 0.2, 0.3, 0.7, 1.1, 2.2, 0.01, 0.05), { nil: null }) });
    await fc.assert(fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 60 }), fc.constantFrom(0.3, 0.6, 1, 1.2, 2.5), async (events, threshold) => {
      // In (ts, id) order: no late data, so the two runtimes must agree exactly.
      // Ids unique (one event each), in random order against time: ties in time are ordered by id.
      const lines = events.map((e, i) => ({ id: `e${String((i * 37) % 101).padStart(3, '0')}`, ts: e.t * 500, user: e.user, d: e.d }))
        .sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((e) => JSON.stringify(e));
      const r = await bothWays(threshold, lines);
      expect(r.lates).toBe(0);
      expect(r.replay).toEqual(r.stream);
    }), { numRuns: 60 });
  }, 120_000);
});
