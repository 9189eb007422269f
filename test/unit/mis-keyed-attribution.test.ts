import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { checkDefinition, withTiming, type WindowedPipeline } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import type { ResultRecord } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `mis_keyed` holds only with its evidence: the cell's events in several partitions of one topic AND the
// stream's value one partition's share. A value no share gives, or a cell of one partition, stays
// unexplained; a pipeline with a merge stage (unkeyed) is never per partition.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const T0 = Date.UTC(2026, 10, 23, 10);
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 }) as WindowedPipeline;
const click = (id: string, ts: number, url: string) => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
const row = (d: WindowedPipeline, key: Record<string, string>, values: Record<string, number>): ResultRecord =>
  ({ kind: 'window', pipeline: d.name, windowStart: T0, windowEnd: T0 + 60_000, key, values, revision: 0, watermark: T0 + 120_000 }) as unknown as ResultRecord;
let n = 0;

/** An archive of `clicks:0` (3 clicks of /a) and `sources[1]` (2 of /a, 1 of /b). */
async function archive(second: string): Promise<string> {
  const dir = join(ws.dir, `a${n++}`);
  await new ParquetArchive(dir, def.schema).write(memoryBatches('clicks:0', [1, 2, 3].map((i) => click(`a${i}`, T0 + i * 1_000, '/a')), 100));
  await new ParquetArchive(dir, def.schema).write(memoryBatches(second, [click('a4', T0 + 4_000, '/a'), click('a5', T0 + 5_000, '/a'), click('b1', T0 + 6_000, '/b')], 100));
  return dir;
}

describe('mis_keyed: only with its evidence', () => {
  it('names a share mis_keyed, partitions with the share first; a value no share gives stays unexplained', async () => {
    const dir = await archive('clicks:1');
    const share = await reconcile({ def, archiveDir: dir, realtime: [row(def, { url: '/a' }, { views: 2 }), row(def, { url: '/b' }, { views: 1 })] });
    expect(share.differences.map((d) => [d.cause, d.partitions])).toEqual([['mis_keyed', ['clicks:1', 'clicks:0']]]);
    const neither = await reconcile({ def, archiveDir: dir, realtime: [row(def, { url: '/a' }, { views: 4 }), row(def, { url: '/b' }, { views: 1 })] });
    expect(neither.differences.map((d) => [d.cause, d.partitions])).toEqual([['unexplained', undefined]]);
  });

  it('a cell whose events lie in one partition, or in two files (no topic), stays unexplained', async () => {
    const dir = await archive('clicks:1');
    const wrongB = await reconcile({ def, archiveDir: dir, realtime: [row(def, { url: '/a' }, { views: 5 }), row(def, { url: '/b' }, { views: 2 })] });
    expect(wrongB.differences.map((d) => [d.cell.url, d.cause])).toEqual([['/b', 'unexplained']]);
    const files = await archive('file:b.jsonl');
    const fromFiles = await reconcile({ def, archiveDir: files, realtime: [row(def, { url: '/a' }, { views: 3 }), row(def, { url: '/b' }, { views: 1 })] });
    expect(fromFiles.differences.map((d) => d.cause)).not.toContain('mis_keyed');
  });

  it('a pipeline with a merge stage (not keyed by the partition key) is never mis_keyed', async () => {
    const visitors = withTiming({ ...uniqueVisitors5m(), window: pageViewsPerMinute.window } as WindowedPipeline, { maxOutOfOrderness: 1_000, allowedLateness: 0 }) as WindowedPipeline;
    const dir = await archive('clicks:1');
    const report = await reconcile({ def: visitors, archiveDir: dir, realtime: [row(visitors, {}, { visitors: 3 })] });
    expect(report.differences.map((d) => d.cause)).toEqual(['unexplained']);
  });

  it('hopping windows: a share leaves out an event only from the windows that skipped it (late for those alone)', async () => {
    // clicks:0 reads x1 (/a, 0:30), z (/z, 1:40: W 1:38.999), then e (/a, 0:59): late for [-1:00, 1:00) only;
    // [0:00, 2:00) counts it, so no late log names it. clicks:1 holds y1, y2 (/a). The stream's row for
    // [-1:00, 1:00) /a is clicks:0's share without e: 1. With e left out of both windows or of neither,
    // no share gave 1 and the cell stayed unexplained.
    const hop = checkDefinition(withTiming({ ...pageViewsPerMinute, name: 'views_2m_every_1m', window: hopping(120_000, 60_000) }, { maxOutOfOrderness: 1_000, allowedLateness: 0 })) as WindowedPipeline;
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, hop.schema).write(memoryBatches('clicks:0', [click('x1', T0 + 30_000, '/a'), click('z', T0 + 100_000, '/z'), click('e', T0 + 59_000, '/a')], 100));
    await new ParquetArchive(dir, hop.schema).write(memoryBatches('clicks:1', [click('y1', T0 + 40_000, '/a'), click('y2', T0 + 45_000, '/a')], 100));
    const cell = (start: number, views: number) => ({ ...row(hop, { url: '/a' }, { views }), windowStart: start, windowEnd: start + 120_000 }) as ResultRecord;
    const realtime = [cell(T0 - 60_000, 1), cell(T0, 2)];
    for (const lateLog of [undefined, []]) {
      const report = await reconcile({ def: hop, archiveDir: dir, realtime, ...(lateLog ? { lateLog } : {}) });
      const skipped = report.differences.filter((d) => d.cell.url === '/a' && d.cell.window_start === new Date(T0 - 60_000).toISOString());
      expect(skipped.map((d) => [d.realtime?.views, d.replay?.views, d.cause, d.partitions])).toEqual([[1, 4, 'mis_keyed', ['clicks:0', 'clicks:1']]]);
    }
  });
});
