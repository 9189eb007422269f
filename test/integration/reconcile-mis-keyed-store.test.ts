import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// The store's day of a pipeline computed per partition over a topic not keyed by the schema's `key` (url):
// /a's clicks of minute 0 on both partitions. Each partition's operator writes its share at revision 0;
// the store keeps the first and records the cell as contradicted by another run. Reconcile names the
// difference `mis_keyed` (with both partitions: the store's share first), not `other_run`, and publishes.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const click = (id: string, ts: number, url: string) => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
// Partition 0: 3 clicks of /a; partition 1: 2 more, and /b (keyed right: on one partition only).
const partitions = [
  [click('a1', T0 + 1_000, '/a'), click('a2', T0 + 2_000, '/a'), click('a3', T0 + 3_000, '/a'), click('c0', T0 + 20 * M, '/c')],
  [click('a4', T0 + 4_000, '/a'), click('a5', T0 + 5_000, '/a'), click('b1', T0 + 6_000, '/b'), click('d1', T0 + 20 * M, '/d')],
];

describe.each(backends)('reconcile of a store day counted per partition over a topic not keyed by url: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  it('names the share mis_keyed and publishes the whole count', async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('miskey') });
    stores.push(store);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    for (const [p, lines] of partitions.entries()) {
      await new ParquetArchive(archiveDir, def.schema).write(memoryBatches(`clicks:${p}`, lines, 1000));
      await store.writeRealtime((await streamLines(def, lines)).changelog);
    }
    const reportDir = join(ws.dir, `reports-${randomUUID()}`);
    const rec = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: 'miskey', reportDir });
    expect(rec.report.unexplained).toBe(0);
    expect(rec.report.differences.map((d) => [d.cell.url, d.realtime?.views, d.replay?.views, d.cause, d.partitions]))
      .toEqual([['/a', 3, 5, 'mis_keyed', ['clicks:0', 'clicks:1']]]);
    expect(readFileSync(join(reportDir, DAY, `${def.name}.md`), 'utf8')).toContain('| mis_keyed | partitions clicks:0, clicks:1 |');
    const a0 = (await store.current(def.name, DAY)).find((r) => r.windowStart === T0 && r.key.url === '/a');
    expect(a0?.values.views).toBe(5);
  });
});
