import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { dayReportMarkdown } from '../../reconcile/day-report.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A window that counted a ride delivered twice was named `duplicate` with nothing else: which ride, and
// where its second delivery was, could only be found by querying the archive.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const M = 60_000;
const defs = parseDefinitions({
  schemas: { rides: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', city: 'string' } } },
  pipelines: {
    per_minute: { input: 'rides', key: ['city'], window: { tumbling: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: 1000, allowed_lateness: 0 },
    hopping: { input: 'rides', key: [], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: 1000, allowed_lateness: 0 },
  },
}, 'x');
const ride = (id: string, ts: number, city = 'Faro') => JSON.stringify({ id, ts, city });
const lines = [ride('a', M + 10_000), ride('b', M + 20_000, 'Porto'), ride('a', M + 10_000), ride('c', 5 * M)];

describe('reconcile: a duplicate names its repeated deliveries', () => {
  for (const [name, windows] of [['per_minute', ['00:01']], ['hopping', ['00:00', '00:01']]] as const) {
    it(`${name}: each cell the repeat made differ lists it, apart from late events`, async () => {
      const def = defs.pipeline(name);
      const dir = join(ws.dir, name);
      await new ParquetArchive(dir, def.schema).write(memoryBatches('file:rides.jsonl', lines, 1000));
      const report = await reconcile({ def, realtime: (await streamLines(def, lines)).changelog, archiveDir: dir });
      expect(report).toMatchObject({ unexplained: 0, causes: { duplicate: windows.length } });
      expect(report.differences.map((d) => [d.cell.window_start, d.cause, d.late_events, d.repeated])).toEqual(windows.map((w) => [
        `1970-01-01T${w}:00.000Z`, 'duplicate', [], [{ id: 'a', ts: new Date(M + 10_000).toISOString(), source: 'file:rides.jsonl', offset: 2 }],
      ]));
      const md = dayReportMarkdown({ date: '1970-01-01', pipeline: name, generation: 1, previous_generation: 0, status: 'published', day_status: 'sealed', reconciled_at: '', job_id: 'j', corrections: 0, report }, 'windowed');
      expect(md.split('\n').filter((l) => l.startsWith('| 1970') && l.includes('| duplicate |')).map((l) => l.split(' | ').at(-1))).toEqual(windows.map(() => 'repeated a@file:rides.jsonl:2 |'));
    });
  }
});

// A repeat the stream dropped as late (for every window, or for one of a hopping event's windows) is no
// delivery the stream counted there: `repeated` listed it all the same, beside the repeat it did count.
describe('reconcile: a duplicate lists only the repeats the stream counted in the cell', () => {
  const B = 1000;
  const lateDefs = parseDefinitions({
    schemas: { rides: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', city: 'string' } } },
    pipelines: {
      per_minute: { input: 'rides', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: B, allowed_lateness: 0 },
      hopping: { input: 'rides', key: [], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: B, allowed_lateness: 0 },
    },
  }, 'x');
  // Ride a, its repeat on time, a ride that closes the first minute, a's second repeat (late for the
  // first minute; on time for the hopping window that spans the next minute too), and one far ahead.
  const day = [ride('a', M + 10_000), ride('a', M + 10_000), ride('b', 2 * M + 5_000), ride('a', M + 10_000), ride('c', 5 * M)];
  const windowsOf = (kind: 'tumbling' | 'hopping', ts: number) => {
    const first = Math.floor(ts / M) * M;
    return kind === 'tumbling' ? [{ start: first, end: first + M }] : [{ start: first - M, end: first + M }, { start: first, end: first + 2 * M }];
  };
  /** By hand: per window start, the repeated deliveries (offsets) a window took, W = max(ts) - B - 1 before each. */
  const countedRepeats = (kind: 'tumbling' | 'hopping') => {
    const out = new Map<number, number[]>();
    const seen = new Set<string>();
    let w = Number.NEGATIVE_INFINITY;
    day.forEach((line, offset) => {
      const { id, ts } = JSON.parse(line) as { id: string; ts: number };
      for (const win of windowsOf(kind, ts)) {
        if (seen.has(id) && win.end - 1 > w) out.set(win.start, [...(out.get(win.start) ?? []), offset]);
      }
      seen.add(id);
      w = Math.max(w, ts - B - 1);
    });
    return out;
  };
  for (const [name, kind] of [['per_minute', 'tumbling'], ['hopping', 'hopping']] as const) {
    it(`${name}: without the late log and with it`, async () => {
      const def = lateDefs.pipeline(name);
      const dir = join(ws.dir, `late-${name}`);
      await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', day, 1000));
      const streamed = await streamLines(def, day);
      expect(streamed.lates.length).toBe(kind === 'tumbling' ? 1 : 0);
      const expected = [...countedRepeats(kind)].sort(([a], [b]) => a - b)
        .map(([start, offsets]) => [new Date(start).toISOString(), offsets.map((offset) => ({ id: 'a', ts: new Date(M + 10_000).toISOString(), source: 'file:input.jsonl', offset }))]);
      expect(expected.length).toBe(kind === 'tumbling' ? 1 : 2);
      const lateLog = streamed.lates.map((record) => ({ record, evaluatedOnArrival: false }));
      for (const log of [undefined, lateLog]) {
        const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: dir, ...(log ? { lateLog: log } : {}) });
        expect(report).toMatchObject({ unexplained: 0, causes: { duplicate: expected.length } });
        expect(report.differences.map((d) => [d.cell.window_start, d.repeated])).toEqual(expected);
      }
    });
  }
});

// The stream refused a's second repeat for its fields (the archive, under other definitions, kept it):
// it never counted it, and a duplicate's repeats listed it all the same.
it('reconcile: a duplicate does not list a repeat the stream quarantined', async () => {
  const def = defs.pipeline('per_minute');
  const archived = [ride('a', M + 10_000), ride('a', M + 10_000), ride('a', M + 10_000), ride('c', 5 * M)];
  const streamedLines = archived.map((l, i) => (i === 2 ? JSON.stringify({ id: 'a', ts: M + 10_000, city: 5 }) : l));
  const streamed = await streamLines(def, streamedLines);
  expect(streamed.deadLetters.map((d) => d.offset)).toEqual([2]);
  const quarantined = streamed.deadLetters.map((d) => ({ position: { source: d.source, offset: d.offset }, rejected: d.reason }));
  const dir = join(ws.dir, 'quarantined');
  await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', archived, 1000));
  for (const lateLog of [undefined, []]) {
    const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: dir, quarantined, ...(lateLog ? { lateLog } : {}) });
    expect(report).toMatchObject({ unexplained: 0, causes: { duplicate: 1 } });
    expect(report.differences.map((d) => d.repeated?.map((r) => r.offset))).toEqual([[1]]);
  }
});
