import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { openStore } from '../../store/open-store.ts';
import { DAY, P, storeBackends, win } from '../fixtures/result-store.ts';

// The SQL docs/operations.md ("Reading the tables") gives a BI tool for the numbers as readers saw them at
// an instant, run as written (schema and instant put in) on both backends, against the store's own asOf.
const { schemas, backends } = storeBackends();

function documentedAsOf(schema: string, instant: number): string {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const sql = /```sql\n\s*-- page_views_per_minute of 2026-11-23 as readers saw them at 2026-11-24 09:00 UTC\n([\s\S]*?)```/.exec(doc)?.[1];
  if (sql === undefined) throw new Error('docs/operations.md lost its as-of query ("Reading the tables")');
  const at = new Date(instant).toISOString().replace('T', ' ').replace('Z', '+00');
  return sql.replaceAll('concord.', `${schema}.`).replaceAll('2026-11-24 09:00:00+00', at).replace(/;\s*$/, '');
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
type Seen = [url: string, views: number, generation: number, revision: number][];

describe.each(backends)('the documented SQL for a reader, on $name', (b) => {
  it('"as published at an instant" reads what the store\'s asOf reads, before and after a late update and a reconciliation', async () => {
    const schema = schemas.next('reader');
    const url = b.url();
    const store = await openStore(url, { registry: seedRegistry(), schema });
    const instants: number[] = [];
    const mark = async () => { await pause(); instants.push(Date.now()); await pause(); };
    await mark(); // before anything: no row
    await store.writeRealtime([win(0, '/a', 3), win(0, '/b', 1), win(1, '/a', 4)]);
    await mark();
    await store.writeRealtime([win(0, '/a', 5, 1)]); // a late update: revision 1
    await mark();
    await store.publishDay(P, DAY, [win(0, '/a', 6), win(0, '/b', 1), win(1, '/a', 4), win(2, '/c', 2)], { jobId: 'r1', provenance: 'reconciled' });
    await mark();
    await store.writeRealtime([win(1, '/a', 7, 1)]); // into version 0, while version 1 is live
    await mark();
    const expected: Seen[] = [];
    for (const at of instants) expected.push((await store.asOfRows(P, DAY, at)).map((r) => [String(r.key.url), Number(r.values.views), r.generation, r.revision]));
    await store.close();
    expect(expected.map((rows) => rows.length)).toEqual([0, 3, 3, 4, 4]);
    expect(expected[2]).toContainEqual(['/a', 5, 0, 1]);
    const seen: Seen[] = [];
    const asSeen = (rows: Record<string, unknown>[]): Seen => rows.map((r) => [String(r.url), Number(r.views), Number(r.generation), Number(r.revision)]);
    if (url.startsWith('duckdb:')) {
      const db = await DuckDBInstance.create(url.slice('duckdb:'.length), { access_mode: 'READ_ONLY' });
      const c = await db.connect();
      for (const at of instants) seen.push(asSeen((await c.runAndReadAll(documentedAsOf(schema, at))).getRowObjectsJS()));
      c.closeSync();
      db.closeSync();
    } else {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      for (const at of instants) seen.push(asSeen((await c.query(documentedAsOf(schema, at))).rows as Record<string, unknown>[]));
      await c.end();
    }
    expect(seen).toEqual(expected);
  });
});

describe('what a DuckDB client sees of the embedded store', () => {
  it('its tables, the view and their columns carry the notes PostgreSQL has (duckdb_tables(), duckdb_columns() showed none)', async () => {
    const { TABLE_NOTES, ROW_COLUMN_NOTES, LIVE_RESULTS_NOTE, LIVE_RESULTS_COLUMN_NOTES } = await import('../../store/store-table-notes.ts');
    const url = backends[0]!.url();
    const store = await openStore(url, { registry: seedRegistry(), schema: 'concord' });
    await store.close();
    const reopened = await openStore(url, { registry: seedRegistry(), schema: 'concord' }); // the view is made again at each writer's start: its notes too
    await reopened.close();
    const db = await DuckDBInstance.create(url.slice('duckdb:'.length), { access_mode: 'READ_ONLY' });
    const c = await db.connect();
    try {
      const rows = async (sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, string | null>[];
      const notes = Object.fromEntries((await rows(`SELECT table_name AS t, comment FROM duckdb_tables() WHERE schema_name = 'concord'
        UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'concord'`)).map((r) => [r.t, r.comment]));
      expect(notes).toEqual({ ...TABLE_NOTES, live_results: LIVE_RESULTS_NOTE });
      const columns = async (t: string) => Object.fromEntries((await rows(`SELECT column_name AS col, comment FROM duckdb_columns()
        WHERE schema_name = 'concord' AND table_name = '${t}' AND comment IS NOT NULL`)).map((r) => [r.col, r.comment]));
      expect(await columns('result_rows')).toEqual(ROW_COLUMN_NOTES);
      expect(await columns('live_results')).toEqual(LIVE_RESULTS_COLUMN_NOTES);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
});
