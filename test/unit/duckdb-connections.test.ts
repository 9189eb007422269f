import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DuckDb } from '../../batch/duckdb.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace();
afterAll(() => ws.cleanup());

describe('DuckDb.connect: more connections to one database', () => {
  it('each connection has temporary tables of its own; closing one leaves the database and the others open', async () => {
    const db = await DuckDb.open();
    try {
      const a = await db.connect();
      const b = await db.connect();
      await a.run('CREATE TEMP TABLE t AS SELECT 1 AS x');
      await b.run('CREATE TEMP TABLE t AS SELECT 2 AS x');
      expect(await a.rows('SELECT x FROM t')).toEqual([{ x: 1 }]);
      expect(await b.rows('SELECT x FROM t')).toEqual([{ x: 2 }]);
      a.close();
      expect(await b.rows('SELECT x FROM t')).toEqual([{ x: 2 }]);
      b.close();
      // A new connection starts without the closed ones' temporary tables, on a database still open.
      const c = await db.connect();
      await expect(c.rows('SELECT x FROM t')).rejects.toThrow(/t/);
      expect(await c.rows('SELECT 3 AS y')).toEqual([{ y: 3 }]);
      c.close();
      expect(await db.rows('SELECT 4 AS z')).toEqual([{ z: 4 }]);
    } finally {
      db.close();
    }
  });

  it('replay and reconcile read on the connection they are given, and open no database of their own', async () => {
    const events = [0, 10_000, 70_000, 75_000].map((ts, i) => ({ event_id: `e${i}`, ts, url: i % 2 ? '/a' : '/b', visitor_id: 'v1', country: 'NL' }));
    const lines = events.map((e) => JSON.stringify(e));
    const dir = join(ws.dir, 'archive');
    await new ParquetArchive(dir, pageViewsPerMinute.schema).write(memoryBatches('file:input.jsonl', lines, 1000));
    const streamed = await streamLines(pageViewsPerMinute, lines);
    const db = await DuckDb.open();
    const opened: unknown[] = [];
    const open = DuckDb.open;
    DuckDb.open = async (...args) => { opened.push(args); return open.apply(DuckDb, args); };
    try {
      const connection = await db.connect();
      const replayed = await replay(pageViewsPerMinute, dir, { db: connection });
      const report = await reconcile({ def: pageViewsPerMinute, realtime: streamed.changelog, archiveDir: dir, db: connection });
      connection.close();
      expect(opened).toEqual([]);
      const cells = replayed.map((r) => (r.kind === 'window' ? `${r.windowStart} ${String(r.key.url)} ${String(r.values.views)}` : r.kind)).sort();
      expect(cells).toEqual(['0 /a 1', '0 /b 1', '60000 /a 1', '60000 /b 1']);
      expect(report.different).toBe(0);
      expect(report.cells).toBe(4);
    } finally {
      DuckDb.open = open;
      db.close();
    }
  });
});
