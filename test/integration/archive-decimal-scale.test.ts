import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { DefinitionError } from '../../pipeline/errors.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The archive keeps a decimal(N) as integer minor units without N. A schema whose decimal(2) became
// decimal(3) after the archive was written read the same files 10 times too small, without a word
// (338.91 replayed as 33.891); now such a read is refused, naming the field, both scales and the fix.
const ws = tempWorkspace('concord-decimal-scale-');
afterAll(() => ws.cleanup());

const defs = (total: string) => parseDefinitions({
  schemas: { orders: { time: 'placed_at', id: 'order_id', fields: { order_id: 'string', placed_at: 'timestamp', country: 'string', total } } },
  pipelines: {
    revenue: { input: 'orders', key: ['country'], window: { tumbling: '1h' }, aggregates: { revenue: ['sum', 'total'] } },
    orders: { input: 'orders', key: ['country'], window: { tumbling: '1h' }, aggregates: { n: 'count' } },
  },
}, 'x');
const events = [
  { order_id: 'o1', placed_at: '2026-11-16T10:00:00Z', country: 'DE', total: '338.91' },
  { order_id: 'o2', placed_at: '2026-11-16T10:20:00Z', country: 'DE', total: 12.5 },
].map((e) => JSON.stringify(e));
const revenue = (rows: readonly unknown[]) => (rows as WindowResult[]).map((r) => r.values.revenue);

describe('archive: a decimal read under the scale it was written with', () => {
  it('refuses a replay under another decimal(N), and reads right once the source is archived again', async () => {
    const dir = join(ws.dir, 'archive');
    const two = defs('decimal(2)'), three = defs('decimal(3)');
    await new ParquetArchive(dir, two.pipeline('revenue').schema).write(memoryBatches('file:orders.jsonl', events));
    expect(revenue(await replay(two.pipeline('revenue'), dir))).toEqual([351.41]);
    const refused = replay(three.pipeline('revenue'), dir);
    await expect(refused).rejects.toThrow(DefinitionError);
    await expect(refused).rejects.toThrow(/holds "total" as decimal\(2\) \(source file:orders\.jsonl\), and schema orders now says decimal\(3\): pipeline revenue would read its values 10 times too small\. Archive those sources again/);
    // A pipeline that reads no decimal is not concerned.
    expect((await replay(three.pipeline('orders'), dir)).length).toBe(1);
    // The source archived again under decimal(3): its files and its record are replaced.
    await new ParquetArchive(dir, three.pipeline('revenue').schema).write(memoryBatches('file:orders.jsonl', events));
    expect(revenue(await replay(three.pipeline('revenue'), dir))).toEqual([351.41]);
    await expect(replay(two.pipeline('revenue'), dir)).rejects.toThrow(/as decimal\(3\) .* now says decimal\(2\): .* 10 times too large/);
  });

  it('a topic\'s slices appended under two scales keep both: refused under either until archived anew', async () => {
    const dir = join(ws.dir, 'appended');
    const two = defs('decimal(2)'), three = defs('decimal(3)');
    await new ParquetArchive(dir, two.pipeline('revenue').schema).write(memoryBatches('orders:0', events.slice(0, 1)), { mode: 'append', stem: 'orders_0-0-0' });
    await new ParquetArchive(dir, three.pipeline('revenue').schema).write(memoryBatches('orders:0', events.slice(1), 8192, 1), { mode: 'append', stem: 'orders_0-1-1' });
    await expect(replay(three.pipeline('revenue'), dir)).rejects.toThrow(/as decimal\(2\) \(source orders:0\)/);
    await expect(replay(two.pipeline('revenue'), dir)).rejects.toThrow(/as decimal\(3\) \(source orders:0\)/);
  });
});
