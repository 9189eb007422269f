import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DuckDb } from '../../batch/duckdb.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { findGaps } from '../../reconcile/evidence.ts';
import type { LineBatch } from '../../sources/source.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const schema = pageViewsPerMinute.schema;
const SOURCE = 'soak.clicks:0';
const click = (o: number) => JSON.stringify({ event_id: `e${o}`, ts: 1_000 + o, url: '/a', visitor_id: `v${o}` });

/** The next flush of a Kafka partition, as the archiver appends it: offsets [first, last]. */
function flush(dir: string, first: number, last: number): Promise<unknown> {
  const offsets = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const batch: LineBatch = { source: SOURCE, firstOffset: first, lines: offsets.map(click), offsets };
  return new ParquetArchive(dir, schema).write((async function* () { yield batch; })(), { mode: 'append', stem: `soak.clicks_0-${first}-${last}` });
}

// The nightly reconcile and backfill jobs run while `archive --from-kafka` keeps appending files: the
// offset spans were read from the files then, and a file that came before the count made it fail.
describe('archive gaps while the archiver appends', () => {
  it('counts within the spans it read: a file added meanwhile neither fails the query nor reads as a gap', async () => {
    const dir = join(ws.dir, 'live');
    await flush(dir, 0, 99);
    const db = await DuckDb.open();
    let appended = false;
    // The archiver's next flush lands right after the spans were read (db.columns), before the count.
    const racing = new Proxy(db, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key !== 'columns' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (!appended) { appended = true; await flush(dir, 100, 149); }
          return out;
        };
      },
    });
    try {
      expect(await findGaps(dir, schema, racing, [])).toEqual(new Map());
      expect(appended).toBe(true);
    } finally {
      db.close();
    }
  });
});
