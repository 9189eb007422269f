import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fraudMultiCountry, pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { AlertResult, WindowResult } from '../../schemas/results.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// One conformance suite, run against both backends: embedded DuckDB and the real PostgreSQL
// (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test), each test in a schema of its own.
const ws = tempWorkspace();
const PG = PG_URL;
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const DAY = '2026-11-23';
const T0 = Date.UTC(2026, 10, 23, 10);
const P = pageViewsPerMinute.name;
const V = definitionVersion(pageViewsPerMinute);

function win(minute: number, url: string, views: number, revision = 0, watermark = T0 + minute * 60_000 + 59_999): WindowResult {
  const start = T0 + minute * 60_000;
  return { kind: 'window', pipeline: P, windowStart: start, windowEnd: start + 60_000, key: { url }, values: { views }, revision, watermark, definitionVersion: V };
}

function alert(user: string, id: string, ts: number): AlertResult {
  return {
    kind: 'alert', pipeline: fraudMultiCountry().name, key: { user_id: user }, idField: 'txn_id', id, ts, output: 'countries',
    value: ['DE', 'FR', 'IT', 'US'], late: false, watermark: ts, definitionVersion: definitionVersion(fraudMultiCountry()),
  };
}

const views = (rows: { key: Record<string, unknown>; values: Record<string, unknown>; windowStart: number }[]) =>
  rows.map((r) => [(r.windowStart - T0) / 60_000, r.key.url, r.values.views]);

const backends = [
  { name: 'DuckDB (embedded)', url: () => `duckdb:${join(ws.dir, `${randomUUID()}.duckdb`)}` },
  { name: 'PostgreSQL', url: () => PG },
];

describe.each(backends)('result store conformance: $name', ({ name, url }) => {
  let clock = T0 + 3_600_000;
  const open = async (schema = schemas.next(), target = url()) => {
    return { store: await openStore(target, { registry: seedRegistry(), schema, now: () => clock }), schema, target };
  };
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });
  const fresh = async () => { const o = await open(); stores.push(o.store); return o.store; };

  it('realtime writes are idempotent upserts guarded by revision; history answers as-of', async () => {
    const store = await fresh();
    const t1 = clock;
    expect(await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1), win(1, '/a', 5)])).toEqual({ applied: 3, diverted: 0 });
    // The same rows again (a replayed results topic): nothing changes.
    expect(await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1)])).toEqual({ applied: 0, diverted: 0 });
    clock += 60_000;
    const t2 = clock;
    // A late update within L (revision 1) wins; a stale revision 0 arriving after it does not.
    expect((await store.writeRealtime([win(0, '/a', 3, 1)])).applied).toBe(1);
    expect((await store.writeRealtime([win(0, '/a', 7, 0)])).applied).toBe(0);
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/a', 5]]);
    const cur = await store.current(P, DAY);
    expect(cur[0]).toMatchObject({ revision: 1, provenance: 'late-update', generation: 0, definitionVersion: V });
    expect(cur[1]).toMatchObject({ revision: 0, provenance: 'realtime' });
    // What the dashboard showed at t1 and at t2.
    expect(views(await store.asOfRows(P, DAY, t1))).toEqual([[0, '/a', 2], [0, '/b', 1], [1, '/a', 5]]);
    expect(views(await store.asOfRows(P, DAY, t2))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/a', 5]]);
    expect(await store.asOfRows(P, DAY, t1 - 1)).toEqual([]);
  });

  it('a reconciled version becomes visible in one switch; late stream rows never overwrite it but mark the cell dirty; backfill and revert', async () => {
    const store = await fresh();
    await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1), win(2, '/c', 4)]);
    const before = clock;
    clock += 60_000;
    const published = await store.publishDay(P, DAY, [win(0, '/a', 3), win(0, '/b', 1), win(1, '/d', 1)], { jobId: 'job-1', provenance: 'reconciled' });
    // /a 2 -> 3, /d new, /c gone (the replay has no such window): three corrections.
    expect(published).toEqual({ generation: 1, previous: 0, corrections: 3 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/d', 1]]);
    expect((await store.current(P, DAY))[0]).toMatchObject({ provenance: 'reconciled', generation: 1 });
    // Retrying the same job changes nothing (idempotent per job id).
    expect(await store.publishDay(P, DAY, [win(0, '/a', 3)], { jobId: 'job-1', provenance: 'reconciled' })).toEqual({ generation: 1, previous: 1, corrections: 0 });
    const changes = await store.changesSince(0);
    expect(changes.map((c) => [c.cell, c.old, c.new, c.provenance])).toEqual([
      ['["/a"]', { views: 2 }, { views: 3 }, 'reconciled'],
      ['["/d"]', null, { views: 1 }, 'reconciled'],
      ['["/c"]', { views: 4 }, null, 'reconciled'],
    ]);
    // A late stream update for the reconciled day: generation 0 moves, readers do not; the cell is dirty.
    clock += 60_000;
    expect(await store.writeRealtime([win(0, '/b', 2, 1)])).toEqual({ applied: 1, diverted: 1 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/d', 1]]);
    expect((await store.realtimeResults(P, DAY)).map((r) => [(r as WindowResult).key.url, (r as WindowResult).values.views])).toEqual([['/a', 2], ['/b', 2], ['/c', 4]]);
    expect((await store.dirtyCells(P, DAY)).map(({ recordedAt: _, ...d }) => d)).toEqual([{ pipeline: P, windowStart: T0, key: { url: '/b' } }]);
    expect((await store.status(P, DAY)).dirty).toBe(1);
    // Backfill writes the recomputed cell into the live version and consumes it.
    const afterSwitch = clock;
    clock += 60_000;
    expect(await store.upsertBackfill(P, DAY, [win(0, '/b', 2)], await store.dirtyCells(P, DAY), { jobId: 'bf-1' })).toEqual({ changed: 1 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 2], [1, '/d', 1]]);
    expect((await store.current(P, DAY))[1]).toMatchObject({ provenance: 'backfill', revision: 1, generation: 1 });
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
    const last = (await store.changesSince(0)).at(-1)!;
    expect([last.cell, last.old, last.new, last.provenance]).toEqual(['["/b"]', { views: 1 }, { views: 2 }, 'backfill']);
    // As of before the switch: the stream's version; right after it: the reconciled one.
    expect(views(await store.asOfRows(P, DAY, before))).toEqual([[0, '/a', 2], [0, '/b', 1], [2, '/c', 4]]);
    expect(views(await store.asOfRows(P, DAY, afterSwitch))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/d', 1]]);
    // Revert: the previous version is live again, in one switch, published too.
    clock += 60_000;
    expect(await store.revert(P, DAY)).toEqual({ from: 1, to: 0, corrections: 3 }); // /b is 2 in both
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 2], [0, '/b', 2], [2, '/c', 4]]);
    expect((await store.status(P, DAY))).toMatchObject({ liveGeneration: 0, generations: [1] });
  });

  it('backfills of a reconciled day add one history revision each; as-of reads see every one', async () => {
    const store = await fresh();
    await store.writeRealtime([win(0, '/a', 1), win(0, '/b', 1)]);
    await store.publishDay(P, DAY, [win(0, '/a', 1), win(0, '/b', 1)], { jobId: 'rec', provenance: 'reconciled' });
    const states: number[] = [];
    for (const views of [4, 6]) {
      clock += 60_000;
      expect(await store.upsertBackfill(P, DAY, [win(0, '/a', views)], [], { jobId: `bf-${views}` })).toEqual({ changed: 1 });
      states.push(clock);
    }
    expect((await store.current(P, DAY))[0]).toMatchObject({ provenance: 'backfill', revision: 2, generation: 1, values: { views: 6 } });
    expect(views(await store.asOfRows(P, DAY, states[0]!))).toEqual([[0, '/a', 4], [0, '/b', 1]]);
    expect(views(await store.asOfRows(P, DAY, states[1]!))).toEqual([[0, '/a', 6], [0, '/b', 1]]);
  });

  it('a day is sealed once the watermark passes its end plus the seal delay; rows for it count as late-delta', async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next(), now: () => clock, sealDelayMs: 3_600_000 });
    stores.push(store);
    await store.writeRealtime([win(0, '/a', 1)]);
    await store.setWatermark(P, Date.UTC(2026, 10, 24, 0, 59));
    expect((await store.status(P, DAY)).status).toBe('provisional');
    await store.setWatermark(P, Date.UTC(2026, 10, 24, 1, 0));
    await store.setWatermark(P, Date.UTC(2026, 10, 23)); // W never goes back
    expect((await store.status(P, DAY)).status).toBe('sealed');
    expect(await store.writeRealtime([win(0, '/a', 2, 1), win(3, '/z', 1)])).toEqual({ applied: 0, diverted: 2 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 1]]);
    expect(await store.status(P, DAY)).toMatchObject({ lateDelta: 2, dirty: 2 });
    await store.upsertBackfill(P, DAY, [win(0, '/a', 2), win(3, '/z', 1)], await store.dirtyCells(P, DAY), { jobId: 'bf' });
    expect(await store.status(P, DAY)).toMatchObject({ lateDelta: 0, dirty: 0 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 2], [3, '/z', 1]]);
  });

  it('alerts are stored and read back as alerts', async () => {
    const store = await fresh();
    const a = alert('u1', 't9', T0 + 5_000);
    await store.writeRealtime([a]);
    expect(await store.realtimeResults(a.pipeline, DAY)).toEqual([a]);
  });

  it('one write of many windows and alerts (more windows than a write inlines) stores each row with its own window; a second write updates half', async () => {
    const store = await fresh();
    const windows = Array.from({ length: 100 }, (_, m) => [win(m, '/a', m + 1), win(m, "/b'q", 2 * m + 1)]).flat();
    const alerts = Array.from({ length: 80 }, (_, i) => alert(`u${i % 7}`, `t${i}`, T0 + i * 1_000));
    expect(await store.writeRealtime([...windows, ...alerts])).toEqual({ applied: 280, diverted: 0 });
    const updates = windows.filter((_, i) => i % 4 === 0).map((r) => ({ ...r, values: { views: r.values.views! + 1000 }, revision: 1 }));
    expect(await store.writeRealtime(updates)).toEqual({ applied: 50, diverted: 0 });
    const current = await store.current(P, DAY);
    expect(current).toHaveLength(200);
    const updated = new Set(updates.map((r) => `${r.windowStart}|${r.key.url}`));
    for (const r of current) {
      const minute = (r.windowStart - T0) / 60_000;
      const bumped = updated.has(`${r.windowStart}|${r.key.url}`);
      expect({ end: r.windowEnd, kind: r.kind, version: r.definitionVersion, revision: r.revision, views: r.values.views })
        .toEqual({ end: r.windowStart + 60_000, kind: 'window', version: V, revision: bumped ? 1 : 0, views: (r.key.url === '/a' ? minute + 1 : 2 * minute + 1) + (bumped ? 1000 : 0) });
    }
    expect(await store.realtimeResults(fraudMultiCountry().name, DAY)).toEqual(alerts);
  });

  it(`readers never see a half-switched day (${name})`, async () => {
    const { store, schema, target } = await open();
    stores.push(store);
    const reader = name === 'PostgreSQL' ? await openStore(target, { registry: seedRegistry(), schema }) : store;
    if (reader !== store) stores.push(reader);
    const cells = Array.from({ length: 600 }, (_, i) => win(i % 600, `/u${i}`, 1));
    await store.writeRealtime(cells);
    let done = false;
    const seen = new Set<string>();
    const reading = (async () => {
      while (!done) {
        const rows = await reader.current(P, DAY);
        seen.add([...new Set(rows.map((r) => String(r.values.views)))].sort().join(','));
      }
    })();
    await store.publishDay(P, DAY, cells.map((c) => ({ ...c, values: { views: 2 } })), { jobId: 'big', provenance: 'reconciled' });
    done = true;
    await reading;
    const after = await reader.current(P, DAY);
    expect(after).toHaveLength(600);
    expect(new Set(after.map((r) => r.values.views))).toEqual(new Set([2]));
    // Every read saw one version: all 1s or all 2s, never a mix.
    for (const s of seen) expect(['1', '2']).toContain(s);
  });
});

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

describe('store sink on embedded DuckDB: checkpoints between writes', () => {
  it('checkpoints once enough rows were written, and the file holds every row after a reopen', async () => {
    const path = join(ws.dir, `sink-${randomUUID()}.duckdb`);
    const store = await openStore(`duckdb:${path}`, { registry: seedRegistry() });
    const sink = new StoreSink(store, 1_000, 100);
    for (let i = 0; i < 60; i++) sink.result(win(i, '/a', i + 1));
    await sink.flush();
    expect(await sink.checkpointIfDue()).toBe(false); // 60 rows since the last checkpoint
    for (let i = 60; i < 120; i++) sink.result(win(i, '/a', i + 1));
    await sink.flush();
    expect(await sink.checkpointIfDue()).toBe(true);
    expect(await sink.checkpointIfDue()).toBe(false); // counted from the checkpoint again
    await store.close();
    const reopened = await openStore(`duckdb:${path}`, { registry: seedRegistry() });
    try {
      const rows = await reopened.realtimeResults(P, DAY);
      expect(rows).toHaveLength(120);
      expect((rows as WindowResult[]).map((r) => r.values.views)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    } finally {
      await reopened.close();
    }
  });
});

describe('store sink: one write in flight while the stream computes', () => {
  it('group-commits: while a write is in flight the sink buffers on, and waits only past maxPending', async () => {
    const store = await openStore(`duckdb:${join(ws.dir, `sink-${randomUUID()}.duckdb`)}`, { registry: seedRegistry() });
    try {
      const sizes: number[] = [];
      const writeBatch = store.writeBatch.bind(store);
      let release: () => void = () => undefined;
      let gate = new Promise<void>((r) => { release = r; });
      store.writeBatch = async (batch) => { sizes.push(batch.results.length); await gate; return writeBatch(batch); };
      const sink = new StoreSink(store, 10, 1_000_000, 50);
      for (let i = 0; i < 10; i++) sink.result(win(i, '/a', 1));
      await sink.maybeFlush(); // 10 buffered: the first write starts (and is held at the gate)
      for (let i = 10; i < 40; i++) {
        sink.result(win(i, '/a', 1));
        await sink.maybeFlush(); // a write in flight, under 50 buffered: returns at once
      }
      expect(sizes).toEqual([10]);
      const waiting = (async () => {
        for (let i = 40; i < 60; i++) sink.result(win(i, '/a', 1));
        await sink.maybeFlush(); // 50 buffered: waits for the write in flight, then takes all 50
      })();
      release();
      gate = Promise.resolve();
      await waiting;
      await sink.flush();
      expect(sizes.filter((n) => n > 0)).toEqual([10, 50]); // flush also writes an empty batch (W only)
      expect(await store.current(P, DAY)).toHaveLength(60);
    } finally {
      await store.close();
    }
  });

  it('maybeFlush writes full batches in the background, in order; flush waits for everything; a failed write fails the next call', async () => {
    const store = await openStore(`duckdb:${join(ws.dir, `sink-${randomUUID()}.duckdb`)}`, { registry: seedRegistry() });
    try {
      const sink = new StoreSink(store, 10);
      // The same cell at rising revisions across batches: the last one must win.
      for (let rev = 0; rev < 35; rev++) {
        sink.result(win(0, '/a', rev, rev));
        sink.result(win(rev + 1, '/b', 1));
        await sink.maybeFlush();
      }
      await sink.flush();
      expect(sink.written.results).toBe(70);
      const rows = await store.current(P, DAY);
      expect(rows).toHaveLength(36);
      expect(rows[0]).toMatchObject({ revision: 34, values: { views: 34 } });
      // A write that fails (the store is closed under it) is reported by the next call, not lost.
      await store.close();
      for (let i = 0; i < 10; i++) sink.result(win(100 + i, '/c', 1));
      await sink.maybeFlush(); // starts the write and returns
      await expect(sink.flush()).rejects.toThrow();
    } finally {
      await store.close().catch(() => undefined);
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
