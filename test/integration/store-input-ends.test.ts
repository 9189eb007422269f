import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seedRegistry, uniqueVisitors5m } from '../../examples/seed.ts';
import { DuckDbDriver } from '../../store/duckdb-driver.ts';
import { inputEnd } from '../../store/input-ends.ts';
import { openStore } from '../../store/open-store.ts';
import { PostgresDriver } from '../../store/pg-driver.ts';
import type { SqlDriver } from '../../store/sql-driver.ts';
import { SqlResultStore } from '../../store/sql-store.ts';
import { P, storeBackends, T0, win } from '../fixtures/result-store.ts';
import { PG_URL } from '../fixtures/postgres.ts';

// A bounded run's input end (store/input-ends.ts) holds only while that run was the pipeline's last stream
// write: every later write of the pipeline deletes it in the same transaction, also one from another process
// (PostgreSQL: a live sink beside a bounded `stream --input`). On embedded DuckDB, the one writer knows which
// pipelines hold an end and issues no statement for the others (every flush of the live path).
const { ws, schemas, backends } = storeBackends();
const V5 = uniqueVisitors5m().name;
const W = T0 + 3_600_000;
const ENDED = { run: 'concord stream --pipeline page_views_per_minute --input day.jsonl', at: 'day.jsonl to its end (3 lines)' };
const late = (id: string) => ({
  evaluatedOnArrival: false,
  record: { pipeline: P, event: { event_id: id, ts: T0 + 30_000, url: '/a', visitor_id: 'v' }, watermark: W, windowStart: T0, windowEnd: T0 + 60_000, position: { source: 'file:late.jsonl', offset: 1 } },
});

/** The stream writes of a pipeline other than ending its input: each must forget the pipeline's input end. */
const laterWrites: [string, (store: SqlResultStore) => Promise<unknown>][] = [
  ['result rows', (s) => s.writeRealtime([win(2, '/a', 1)])],
  ['late events', (s) => s.appendLate(P, [late('l1')])],
  ['a watermark', (s) => s.setWatermark(P, W + 60_000)],
  ['a sink flush', (s) => s.writeBatch({ results: [win(3, '/b', 1)], late: new Map(), watermarks: new Map([[P, W + 120_000]]) })],
];

describe.each(backends)('input ends: $name', ({ name, url }) => {
  const open = (schema: string, target: string) => openStore(target, { registry: seedRegistry(), schema });

  it.each(laterWrites)('a later stream write of the pipeline deletes its input end: %s', async (_what, write) => {
    const store = await open(schemas.next('hotpath'), url());
    try {
      await store.writeRealtime([win(0, '/a', 1)]); // the writer has written before: what it knows is loaded
      await store.setWatermark(P, W, ENDED);
      expect(await store.inputEnd(P)).toMatchObject({ ...ENDED, watermark: W });
      await write(store);
      expect(await store.inputEnd(P)).toBeUndefined();
      // Ended again, and again forgotten: what the writer knows follows its own deletes and writes.
      await store.writeBatch({ results: [], late: new Map(), watermarks: new Map([[P, W + 180_000]]), ended: new Map([[P, inputEnd(ENDED.run, ENDED.at, W + 180_000)]]) });
      expect(await store.inputEnd(P)).toMatchObject({ watermark: W + 180_000 });
      await write(store);
      expect(await store.inputEnd(P)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('an input end another writer stored is deleted by the next stream write of the pipeline', async () => {
    const schema = schemas.next('hotpath');
    const target = url();
    const live = await open(schema, target);
    try {
      await live.writeRealtime([win(0, '/a', 1)]); // it has read the input ends: none
      if (name === 'PostgreSQL') {
        // A bounded run of another process ends its input while the live writer runs.
        const bounded = await open(schema, target);
        await bounded.setWatermark(P, W, ENDED).finally(() => bounded.close());
      } else {
        // Embedded DuckDB has one writing process: the other writer ran before this one opened the file.
        await live.close();
        const bounded = await open(schema, target);
        await bounded.setWatermark(P, W, ENDED).finally(() => bounded.close());
      }
      const writer = name === 'PostgreSQL' ? live : await open(schema, target);
      if (writer !== live) await live.close().catch(() => undefined);
      try {
        expect(await writer.inputEnd(P)).toMatchObject(ENDED);
        await writer.writeRealtime([win(1, '/a', 1)]);
        expect(await writer.inputEnd(P)).toBeUndefined();
      } finally {
        if (writer !== live) await writer.close();
      }
    } finally {
      await live.close().catch(() => undefined);
    }
  });
});

/**
 * `db`, with the text of every statement it (or a transaction of it) runs in `seen`; with `failCommit.next`
 * set, the next transaction fails after its statements (as a commit that failed), and is rolled back.
 */
function counting(db: SqlDriver, seen: string[], failCommit = { next: false }): SqlDriver {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'query' || prop === 'execute') {
        return (sql: string, params?: readonly (string | number | null)[]) => { seen.push(sql); return target[prop](sql, params); };
      }
      if (prop === 'transaction') {
        return (fn: (tx: SqlDriver) => Promise<unknown>, hooks?: Parameters<SqlDriver['transaction']>[1]) => target.transaction(async (tx) => {
          const out = await fn(counting(tx, seen));
          if (failCommit.next) throw new Error((failCommit.next = false, 'the commit failed (test)'));
          return out;
        }, hooks);
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const inputEndStatements = (seen: readonly string[]) => seen.filter((s) => s.includes('.input_ends')).map((s) => s.trim().split(/\s+/)[0]);

describe('input ends on the live path: the statements', () => {
  const flushes = async (store: SqlResultStore) => {
    await store.writeRealtime([win(0, '/a', 1)]);
    await store.appendLate(P, [late('l1')]);
    await store.setWatermark(P, W);
    await store.writeBatch({ results: [win(1, '/a', 1)], late: new Map(), watermarks: new Map([[P, W + 60_000], [V5, W]]) });
  };

  it('embedded DuckDB: no statement for a pipeline without an input end (the table read once); a delete where one is stored', async () => {
    const seen: string[] = [];
    const store = await new SqlResultStore(counting(await DuckDbDriver.open(join(ws.dir, 'counted.duckdb')), seen), { registry: seedRegistry() }).init();
    try {
      seen.length = 0;
      await flushes(store);
      await flushes(store);
      expect(inputEndStatements(seen)).toEqual(['SELECT']);
      seen.length = 0;
      await store.setWatermark(P, W + 120_000, ENDED);
      await store.writeBatch({ results: [win(2, '/a', 1)], late: new Map(), watermarks: new Map([[V5, W + 60_000]]) });
      await flushes(store);
      expect(inputEndStatements(seen)).toEqual(['INSERT', 'DELETE']);
      expect(await store.inputEnd(P)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('embedded DuckDB: a write that failed after deleting an input end leaves it stored, and the next write deletes it', async () => {
    const failCommit = { next: false };
    const store = await new SqlResultStore(counting(await DuckDbDriver.open(join(ws.dir, 'rolled-back.duckdb')), [], failCommit), { registry: seedRegistry() }).init();
    try {
      await store.setWatermark(P, W, ENDED);
      failCommit.next = true;
      await expect(store.writeRealtime([win(0, '/a', 1)])).rejects.toThrow('the commit failed (test)');
      expect(await store.inputEnd(P)).toMatchObject(ENDED);
      await store.writeRealtime([win(0, '/a', 1)]);
      expect(await store.inputEnd(P)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL: one delete per stream write, for all the pipelines it wrote (another process may have stored an end)', async () => {
    const seen: string[] = [];
    const schema = schemas.next('hotpath');
    const lockKey = createHash('sha256').update(schema).digest().readInt32BE(0);
    const store = await new SqlResultStore(counting(await PostgresDriver.open(PG_URL, lockKey), seen), { registry: seedRegistry(), schema }).init();
    try {
      seen.length = 0;
      await flushes(store);
      expect(inputEndStatements(seen)).toEqual(['DELETE', 'DELETE', 'DELETE', 'DELETE']);
      expect(seen.filter((s) => s.includes('.input_ends')).at(-1)).toMatch(/WHERE pipeline IN \(\$1, \$2\)/);
    } finally {
      await store.close();
    }
  });
});
