import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The archive ran before the schema had its `time_zone` and refused the Oslo wall-clock times the
// stream, under the new definitions, took. Reconcile places the archive's refused records in the cells
// they belong to by their time as the schema reads it: reading "2026-12-01 09:00:05" with Date, in the
// machine's zone (UTC here), put them an hour off, and the cells they explain were `unexplained`.
const ws = tempWorkspace('concord-zoneless-rejected-');
afterAll(() => ws.cleanup());
const defs = (extra: Record<string, unknown>) => parseDefinitions({
  schemas: { clicks: { time: 'ts', id: 'event_id', max_future_skew: 'off', fields: { event_id: 'string', ts: 'timestamp', url: 'string' }, ...extra } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { clicks: 'count' }, max_out_of_orderness: '1s', allowed_lateness: 0 } },
}, 'zoneless.json').pipeline('per_url');

describe('reconcile of cells the archive refused for a time without a zone', () => {
  it('names them parse_reject, read in the schema\'s time_zone', async () => {
    const oslo = defs({ time_zone: 'Europe/Oslo' });
    const lines = [
      JSON.stringify({ event_id: 'e0', ts: '2026-12-01T08:00:01Z', url: '/a' }),
      JSON.stringify({ event_id: 'e1', ts: '2026-12-01 09:00:05', url: '/a' }), // 08:00:05Z
      JSON.stringify({ event_id: 'e2', ts: '2026-12-01 09:00:06', url: '/a' }),
      JSON.stringify({ event_id: 'e3', ts: '2026-12-01T08:05:00Z', url: '/a' }),
    ];
    const streamed = await streamLines(oslo, lines);
    expect(streamed.deadLetters).toEqual([]);
    const dir = join(ws.dir, 'archive');
    const archived = await new ParquetArchive(dir, defs({}).schema).write(memoryBatches('file:input.jsonl', lines, 1000));
    expect(archived.deadLetters).toBe(2);
    const report = await reconcile({ def: oslo, realtime: streamed.changelog, archiveDir: dir });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { parse_reject: 1 } });
    expect(report.differences.map((d) => [d.cell.window_start, d.realtime?.clicks, d.replay?.clicks])).toEqual([['2026-12-01T08:00:00.000Z', 3, 1]]);
  });
});
