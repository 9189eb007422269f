import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { isRetriable } from '../../store/store-outage.ts';
import { P } from '../fixtures/serve-api.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { startTcpProxy } from '../fixtures/tcp-proxy.ts';

// A connection gone silent while PostgreSQL itself answers (a firewall or NAT that lost the connection's
// state): the answer to a write's COMMIT never comes back. The writer waited forever on it. Now, after
// CONCORD_PG_SILENCE_MS without an answer, a new connection finds the backend no longer running the
// statement: the write fails as retriable, the silent backend is ended (an open transaction of it would
// hold the writers' lock), and the same write again changes nothing (it had committed).
describe('the PostgreSQL writer on a connection gone silent', () => {
  const schemas = testSchemas();
  const saved = { silence: process.env.CONCORD_PG_SILENCE_MS, connect: process.env.CONCORD_PG_CONNECT_TIMEOUT_MS };
  afterAll(async () => {
    for (const [k, v] of [['CONCORD_PG_SILENCE_MS', saved.silence], ['CONCORD_PG_CONNECT_TIMEOUT_MS', saved.connect]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    await schemas.drop();
  });

  it('fails the write as retriable, ends the silent backend, and the retry after the unknown commit doubles nothing', async () => {
    process.env.CONCORD_PG_SILENCE_MS = '300';
    process.env.CONCORD_PG_CONNECT_TIMEOUT_MS = '2000';
    const registry = seedRegistry();
    const schema = schemas.next('pgwait_sw');
    const target = new URL(PG_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(PG_URL);
    url.host = proxy.address;
    const store = await openStore(url.toString(), { registry, schema });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const start = Date.UTC(2026, 10, 23, 10);
      const rows = [0, 1, 2].map((i) => ({ kind: 'window' as const, pipeline: P, windowStart: start + i * 60_000, windowEnd: start + (i + 1) * 60_000, key: { url: '/pg' }, values: { views: i + 1 }, revision: 0, watermark: start + 61_000, definitionVersion: definitionVersion(registry.pipeline(P)) }));
      const before = (await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'concord-writer'`)).rows.map((r: { pid: number }) => r.pid);
      const silent = proxy.blackholeAfter('COMMIT\0', { newConnections: 'through' });
      const error = await store.writeRealtime(rows).then(() => undefined, (e: unknown) => e);
      await silent;
      expect(isRetriable(error)).toBe(true);
      expect((error as Error).message).toMatch(/PostgreSQL's backend \d+ is no longer running the statement after [\d.]+ s without an answer/);
      const pid = Number(/backend (\d+)/.exec((error as Error).message)![1]);
      expect(before).toContain(pid);
      // Ended by the check (its client would not have said so: its connection is silent).
      // pg_terminate_backend signals it; it exits a moment later.
      for (let i = 0; i < 100 && (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount !== 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount).toBe(0);
      const stored = async () => (await admin.query(`SELECT (to_jsonb(t) - 'written_at')::text AS j FROM ${schema}.result_rows t ORDER BY 1`)).rows.map((r: { j: string }) => r.j);
      const committed = await stored();
      expect(committed).toHaveLength(3); // the COMMIT whose answer was lost did commit
      const changes = (await admin.query(`SELECT count(*)::int AS n FROM ${schema}.changes`)).rows[0].n as number;

      await store.writeRealtime(rows); // the retry, on a new connection
      expect(await stored()).toEqual(committed);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.changes`)).rows[0].n).toBe(changes);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.result_history`)).rows[0].n).toBe(0);
    } finally {
      await admin.end();
      await store.close().catch(() => undefined);
      await proxy.close();
    }
  }, 30_000);
});
