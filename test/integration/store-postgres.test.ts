import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { openStore } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { DAY, P, win } from '../fixtures/result-store.ts';

// The result store on the real PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
// where it does what embedded DuckDB cannot: several processes on one store, a connection lost mid-transaction,
// staging by COPY. What both backends do alike is the conformance suite in store.test.ts.
const PG = PG_URL;
const schemas = testSchemas();
afterAll(() => schemas.drop());

describe('result store: several processes on PostgreSQL', () => {
  it('concurrent writers of the same cells: the highest revision wins, whatever the order', async () => {
    const schema = schemas.next();
    const a = await openStore(PG, { registry: seedRegistry(), schema });
    const b = await openStore(PG, { registry: seedRegistry(), schema });
    try {
      const writes = [];
      for (let rev = 0; rev < 20; rev++) {
        const store = rev % 2 === 0 ? a : b;
        writes.push(store.writeRealtime(Array.from({ length: 50 }, (_, i) => win(i, `/k${i}`, rev, rev))));
      }
      await Promise.all(writes.reverse());
      const rows = await a.current(P, DAY);
      expect(rows).toHaveLength(50);
      expect(new Set(rows.map((r) => `${r.revision}:${String(r.values.views)}`))).toEqual(new Set(['19:19']));
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('result store: a PostgreSQL connection dropped in the middle of a transaction', () => {
  it('fails that transaction with a retriable StoreError (no unhandled error event), and the next one runs on a fresh connection', async () => {
    const { PostgresDriver, PostgresReadDriver } = await import('../../store/pg-driver.ts');
    const { StoreError } = await import('../../store/sql-driver.ts');
    const pgAdmin = new (await import('pg')).default.Client({ connectionString: PG }); // eslint-disable-line new-cap
    await pgAdmin.connect();
    const writer = await PostgresDriver.open(PG, 4242);
    const reader = await PostgresReadDriver.open(PG);
    try {
      const dropMine = async (q: { query: (sql: string) => Promise<Record<string, unknown>[]> }) => {
        const pid = Number((await q.query('SELECT pg_backend_pid() AS pid'))[0]!.pid);
        await pgAdmin.query('SELECT pg_terminate_backend($1)', [pid]);
        // The drop reaches the client between two statements, as during a day switch's computation.
        await new Promise((resolve) => setTimeout(resolve, 300));
        return q.query('SELECT 1 AS one');
      };
      const failed = await writer.transaction(dropMine).then(() => null, (e: unknown) => e);
      expect(failed).toBeInstanceOf(StoreError);
      expect((failed as InstanceType<typeof StoreError>).retriable).toBe(true);
      expect(String((failed as Error).message)).toMatch(/store query failed/);
      expect(await writer.transaction((tx) => tx.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
      // Ended while it stages rows (COPY), the failure says the same: it once named no retry ("staging N rows ... failed: terminating connection").
      const stageFailed = await writer.transaction(async (tx) => {
        const pid = Number((await tx.query('SELECT pg_backend_pid() AS pid'))[0]!.pid);
        await pgAdmin.query('SELECT pg_terminate_backend($1)', [pid]);
        return tx.stage('copytest', 'stage_k', [{ name: 'i', type: 'INTEGER' }], [[1]]);
      }).then(() => null, (e: unknown) => e);
      expect(stageFailed).toBeInstanceOf(StoreError);
      expect((stageFailed as InstanceType<typeof StoreError>).retriable).toBe(true);
      expect(String((stageFailed as Error).message)).toMatch(/run again once it answers/);
      const readFailed = await reader.snapshot(dropMine).then(() => null, (e: unknown) => e);
      expect(readFailed).toBeInstanceOf(StoreError);
      expect(await reader.snapshot((q) => q.query('SELECT 3 AS three'))).toEqual([{ three: 3 }]);
    } finally {
      await writer.close();
      await reader.close();
      await pgAdmin.end();
    }
  });
});

describe('result store: PostgreSQL staging by COPY', () => {
  it('stages any text exactly (tabs, newlines, backslashes, \\N and \\. as text, quotes, non-ASCII) and nulls as nulls', async () => {
    const { PostgresDriver } = await import('../../store/pg-driver.ts');
    const driver = await PostgresDriver.open(PG, 4243);
    const hostile = ['a\tb', 'line1\nline2\r\n', 'back\\slash\\', '\\N', '\\.', '"quoted" \'single\'', 'zürich 東京 🙂', '', ' lead and trail '];
    try {
      const back = await driver.transaction(async (tx) => {
        const stage = await tx.stage('copytest', 'stage_x', [{ name: 'i', type: 'INTEGER' }, { name: 'big', type: 'BIGINT' }, { name: 's', type: 'TEXT' }],
          [...hostile.map((s, i) => [i, 2 ** 53 - 1 - i, s]), [hostile.length, null, null]]);
        return tx.query(`SELECT i, big, s FROM ${stage} ORDER BY i`);
      });
      expect(back.map((r) => r.s)).toEqual([...hostile, null]);
      expect(back.map((r) => r.big)).toEqual([...hostile.map((_, i) => 2 ** 53 - 1 - i), null]);
    } finally {
      await driver.close();
    }
  });
});

describe('result store: PostgreSQL written by several roles', () => {
  it('a writer of another role than the one that made live_results opens the store (it was refused: must be owner of view)', async () => {
    const schema = schemas.next();
    const role = `concord_w_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    const first = await openStore(PG, { registry: seedRegistry(), schema });
    await first.close();
    try {
      // The store's tables were made by the first writer's role; the second writes them, as a sink's or a job worker's role.
      const [db] = (await admin.query('SELECT current_database() AS db')).rows as { db: string }[];
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      await admin.query(`GRANT CREATE ON DATABASE ${db!.db} TO ${role}`);
      await admin.query(`GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`);
      await admin.query(`GRANT ALL ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      await admin.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
      await admin.query(`GRANT SELECT ON ${schema}.live_results TO ${role}`);
      const url = new URL(PG);
      url.username = role;
      url.password = '';
      const second = await openStore(url.toString(), { registry: seedRegistry(), schema });
      try {
        await second.writeRealtime([win(0, '/a', 3)]);
        expect((await second.current(P, DAY)).map((r) => r.values.views)).toEqual([3]);
      } finally {
        await second.close();
      }
      const rows = (await admin.query(`SELECT ("values"->>'views')::int AS views FROM ${schema}.live_results WHERE pipeline = $1`, [P])).rows as { views: number }[];
      expect(rows).toEqual([{ views: 3 }]);
    } finally {
      await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });
});

describe('result store: what psql shows', () => {
  it('every table and the row tables\' unclear columns carry their note (\\dt+, \\d+ showed nothing: bigint epoch ms, generation, cell unexplained)', async () => {
    const { TABLE_NOTES, ROW_COLUMN_NOTES, LIVE_RESULTS_NOTE } = await import('../../store/store-table-notes.ts');
    const { STORE_TABLES } = await import('../../store/store-tables.ts');
    const schema = schemas.next();
    const store = await openStore(PG, { registry: seedRegistry(), schema });
    await store.close();
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    try {
      const tables = (await admin.query(`SELECT c.relname AS t, obj_description(c.oid, 'pg_class') AS note FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v') ORDER BY 1`, [schema])).rows as { t: string; note: string | null }[];
      expect(tables.map((r) => r.t)).toEqual([...STORE_TABLES, 'live_results'].sort());
      for (const r of tables) expect(r.note, r.t).toBe(r.t === 'live_results' ? LIVE_RESULTS_NOTE : TABLE_NOTES[r.t as keyof typeof TABLE_NOTES]);
      const cols = (await admin.query(`SELECT a.attname AS col, col_description(a.attrelid, a.attnum) AS note FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0`, [`${schema}.result_history`])).rows as { col: string; note: string | null }[];
      expect(Object.fromEntries(cols.filter((c) => c.note !== null).map((c) => [c.col, c.note]))).toEqual(ROW_COLUMN_NOTES);
    } finally {
      await admin.end();
    }
  });
});
