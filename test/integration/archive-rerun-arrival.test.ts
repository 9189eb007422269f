import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readArrivalOrder } from '../../batch/archive-reader.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// "Reruns replace, never duplicate": a file archived again must leave the archive as it was. Its files
// took the rerun's time as their ingest time, so the file moved after every source archived since: an
// id another file holds too (a re-sent order) was then counted from that other file by the deduplicating
// replay, and reconcile's arrival order read the rerun file's events last.
const ws = tempWorkspace('concord-rerun-arrival-');
afterAll(() => ws.cleanup());

const registry = parseDefinitions({
  schemas: { orders: { time: 'placed_at', id: 'order_id', fields: { order_id: 'string', placed_at: 'timestamp', total: 'decimal(2)' } } },
  pipelines: { revenue: { input: 'orders', key: [], window: { tumbling: '1h' }, aggregates: { n: 'count', revenue: ['sum', 'total'] } } },
}, 'x');
const def = registry.pipeline('revenue');
const line = (id: string, minute: number, total: string) => JSON.stringify({ order_id: id, placed_at: `2026-11-16T10:${String(minute).padStart(2, '0')}:00Z`, total });
const monday = [line('o1', 0, '10.00'), line('o2', 5, '20.00')];
// Archived after monday's file: o2 sent again, with another total.
const resent = [line('o2', 5, '99.00'), line('o3', 10, '1.00')];

const archiveFile = (dir: string, source: string, lines: string[]) => new ParquetArchive(dir, def.schema).write(memoryBatches(source, lines));
const revenue = async (dir: string) => (await replay(def, dir, { dedupe: true })).map((r) => (r as WindowResult).values);
const arrival = async (dir: string) => (await readArrivalOrder(dir, def.schema)).map((e) => `${e.position.source}:${e.position.offset}`);

describe('archive: a file archived again keeps its place in arrival order', () => {
  it('the deduplicating replay and the arrival order are the same after the first file is archived again', async () => {
    const dir = join(ws.dir, 'archive');
    await archiveFile(dir, 'file:monday.jsonl', monday);
    await new Promise((r) => setTimeout(r, 20));
    await archiveFile(dir, 'file:resent.jsonl', resent);
    const first = { revenue: await revenue(dir), arrival: await arrival(dir) };
    expect(first.revenue).toEqual([{ n: 3, revenue: 31 }]);
    expect(first.arrival).toEqual(['file:monday.jsonl:0', 'file:monday.jsonl:1', 'file:resent.jsonl:0', 'file:resent.jsonl:1']);
    await new Promise((r) => setTimeout(r, 20));
    await archiveFile(dir, 'file:monday.jsonl', monday);
    expect({ revenue: await revenue(dir), arrival: await arrival(dir) }).toEqual(first);
  });
});
