import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { openStore } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { DAY, P, win } from '../fixtures/result-store.ts';

// The store as SQL readers (BI tools, psql, Grafana) meet it on the real PostgreSQL, beside its writers.
const schemas = testSchemas();
afterAll(() => schemas.drop());

/**
 * Opens a writer on `schema` while `admin` watches: resolves 'opened', or 'blocked' as soon as the
 * writer's session waits for a lock on the schema's objects (it would wait for as long as the blocker
 * holds it), so the test never depends on a timeout.
 */
async function openWatched(admin: pg.Client, schema: string): Promise<{ outcome: 'opened' | 'blocked'; opening: Promise<unknown> }> {
  const opening = openStore(PG_URL, { registry: seedRegistry(), schema }).then(async (store) => { await store.close(); return 'opened' as const; });
  for (;;) {
    const done = await Promise.race([opening, new Promise((resolve) => setTimeout(resolve, 50, 'pending'))]);
    if (done === 'opened') return { outcome: 'opened', opening };
    const waiting = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%${schema}.%`]);
    if ((waiting.rows[0] as { n: number }).n > 0) return { outcome: 'blocked', opening };
  }
}

describe('result store on PostgreSQL: SQL readers beside the writers', () => {
  it('a reader idle in a read transaction on live_results does not hold up a writer\'s start (CREATE OR REPLACE VIEW waited for it)', async () => {
    const schema = schemas.next('reader');
    const first = await openStore(PG_URL, { registry: seedRegistry(), schema });
    await first.writeRealtime([win(0, '/a', 3)]);
    await first.close();
    const bi = new pg.Client({ connectionString: PG_URL });
    const admin = new pg.Client({ connectionString: PG_URL });
    await bi.connect();
    await admin.connect();
    try {
      // A BI tool (or psql with autocommit off) that read the view and keeps its transaction open.
      await bi.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const seen = await bi.query(`SELECT ("values"->>'views')::int AS views FROM ${schema}.live_results WHERE pipeline = $1 AND day = $2`, [P, DAY]);
      expect(seen.rows).toEqual([{ views: 3 }]);
      const { outcome, opening } = await openWatched(admin, schema);
      await bi.query('COMMIT');
      await opening;
      expect(outcome).toBe('opened');
    } finally {
      await bi.end();
      await admin.end();
    }
  });

  it('a live_results of another release is replaced by the next writer (the view is compared, not left as it was)', async () => {
    const schema = schemas.next('reader');
    const first = await openStore(PG_URL, { registry: seedRegistry(), schema });
    await first.writeRealtime([win(0, '/a', 3)]);
    await first.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const def = async () => String((await admin.query(`SELECT pg_get_viewdef('${schema}.live_results'::regclass) AS d`)).rows[0].d);
      const wanted = await def();
      // The same columns over another filter, as an older release's view would differ.
      await admin.query(`CREATE OR REPLACE VIEW ${schema}.live_results AS ${wanted.replace(/;\s*$/, '')} AND r.pipeline <> $$${P}$$`);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.live_results`)).rows).toEqual([{ n: 0 }]);
      const second = await openStore(PG_URL, { registry: seedRegistry(), schema });
      await second.close();
      expect(await def()).toBe(wanted);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.live_results`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await admin.end();
    }
  });

  it('the view live_results carries a note on each column it has (\\d+ showed none: which times are instants, which epoch ms)', async () => {
    const { LIVE_RESULTS_COLUMN_NOTES } = await import('../../store/store-table-notes.ts');
    const schema = schemas.next('reader');
    const store = await openStore(PG_URL, { registry: seedRegistry(), schema });
    await store.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const cols = (await admin.query(`SELECT a.attname AS col, col_description(a.attrelid, a.attnum) AS note FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0`, [`${schema}.live_results`])).rows as { col: string; note: string | null }[];
      expect(Object.fromEntries(cols.filter((c) => c.note !== null).map((c) => [c.col, c.note]))).toEqual(LIVE_RESULTS_COLUMN_NOTES);
      expect(cols.filter((c) => c.note === null).map((c) => c.col)).toEqual(['pipeline']);
    } finally {
      await admin.end();
    }
  });
});
