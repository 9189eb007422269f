import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive, listArchiveFiles } from '../../batch/parquet-archive.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Hopping windows take the windows that skipped an event from the archive, each event judged against its
// own source's W. An archive file written after the day's first reconcile holds events the stream never
// read (archive_added): judged as a source of their own, one of them read as "late" for a window, named
// late_beyond_lateness with a watermark no stream ever met, and listed twice in another window's difference.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const M = 60_000;
const def = parseDefinitions({
  schemas: { rides: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp' } } },
  pipelines: { rides_2m: { input: 'rides', key: [], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: 1000, allowed_lateness: 0 } },
}, 'x').pipeline('rides_2m');
const ride = (id: string, ts: number) => JSON.stringify({ id, ts });

describe('reconcile: the events of archive-added files a difference lists', () => {
  it('an event the stream never read is archive_added in each of its windows, never late, listed once', async () => {
    const dir = join(ws.dir, 'archive');
    const streamed = [ride('s1', 10_000), ride('s2', 2 * M + 10_000), ride('s3', 8 * M)];
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:rides.jsonl', streamed, 1000));
    const before = new Set(await listArchiveFiles(dir, def.schema));
    // Archived later from a file the stream never read: x2 comes after x1 moved that file's own W to 4:58.999,
    // past the end of [2m, 4m) but not of [3m, 5m).
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:late.jsonl', [ride('x1', 5 * M), ride('x2', 3 * M + 500)], 1000));
    const added = (await listArchiveFiles(dir, def.schema)).filter((f) => !before.has(f));
    const { changelog, lates } = await streamLines(def, streamed);
    expect(lates).toEqual([]);
    // A day (its hours' files judged) and the whole archive (every file judged).
    for (const range of [{ from: 0, to: 86_400_000 }, undefined]) {
      const report = await reconcile({ def, realtime: changelog, archiveDir: dir, lateLog: [], archiveAdded: added, ...(range ? { range } : {}) });
      expect(report).toMatchObject({ unexplained: 0, causes: { late_beyond_lateness: 0, archive_added: 4 } });
      expect(report.differences.map((d) => [d.cell.window_start, d.cause, d.late_events.map((e) => [e.id, e.source, e.watermark])])).toEqual([
        ['1970-01-01T00:02:00.000Z', 'archive_added', [['x2', 'file:late.jsonl', undefined]]],
        ['1970-01-01T00:03:00.000Z', 'archive_added', [['x2', 'file:late.jsonl', undefined]]],
        ['1970-01-01T00:04:00.000Z', 'archive_added', [['x1', 'file:late.jsonl', undefined]]],
        ['1970-01-01T00:05:00.000Z', 'archive_added', [['x1', 'file:late.jsonl', undefined]]],
      ]);
    }
  });

  // The added file holds a ride the pipeline's `where` drops: it is in no cell, and was listed beside the
  // one that made the difference (a cell one ride short named two).
  const filtered = parseDefinitions({
    schemas: { rides: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', passengers: 'int', driver: 'string' } } },
    pipelines: {
      per_minute: { input: 'rides', where: [['passengers', '>=', 1]], key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: 1000, allowed_lateness: 0 },
      burst: { input: 'rides', where: [['passengers', '>=', 1]], key: 'driver', rule: { within: '1m', count: true, more_than: 1, output: 'n' }, max_out_of_orderness: 1000, allowed_lateness: 0 },
    },
  }, 'x');
  const trip = (id: string, ts: number, passengers: number) => JSON.stringify({ id, ts, passengers, driver: 'd1' });

  for (const name of ['per_minute', 'burst']) {
    it(`${name}: an added event the pipeline's where drops is not listed`, async () => {
      const p = filtered.pipeline(name);
      const dir = join(ws.dir, `where-${name}`);
      const streamed = [trip('s1', 10_000, 1), trip('s2', 5 * M, 1)];
      await new ParquetArchive(dir, p.schema).write(memoryBatches('file:rides.jsonl', streamed, 1000));
      const before = new Set(await listArchiveFiles(dir, p.schema));
      await new ParquetArchive(dir, p.schema).write(memoryBatches('file:late.jsonl', [trip('x0', 15_000, 0), trip('x1', 20_000, 2)], 1000));
      const added = (await listArchiveFiles(dir, p.schema)).filter((f) => !before.has(f));
      const report = await reconcile({ def: p, realtime: (await streamLines(p, streamed)).changelog, archiveDir: dir, lateLog: [], archiveAdded: added, range: { from: 0, to: 86_400_000 } });
      expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { archive_added: 1 } });
      expect(report.differences[0]!.late_events.map((e) => e.id)).toEqual(['x1']);
    });
  }
});
