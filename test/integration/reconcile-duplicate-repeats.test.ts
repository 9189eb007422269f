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
      const md = dayReportMarkdown({ date: '1970-01-01', pipeline: name, generation: 1, previous_generation: 0, status: 'published', day_status: 'sealed', reconciled_at: '', job_id: 'j', corrections: 0, report });
      expect(md.split('\n').filter((l) => l.startsWith('| 1970') && l.includes('| duplicate |')).map((l) => l.split(' | ').at(-1))).toEqual(windows.map(() => 'repeated a@file:rides.jsonl:2 |'));
    });
  }
});
