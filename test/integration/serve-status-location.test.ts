import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { DATE, P } from '../fixtures/serve-api.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// docs/api.md: no file path is ever answered. /api/status answered `location` with the store's URL as
// given: an embedded DuckDB file's whole path (`duckdb:/srv/concord/data/store.duckdb`), and a
// PostgreSQL URL's query, whose parameters may name files (sslrootcert, sslkey) (seen in a walkthrough,
// session 35). It answers the DuckDB file's name, and a PostgreSQL URL without password and query; the
// password is in no answer and no log line.
const ws = tempWorkspace('concord-serve-status-location-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

/** A logger whose lines are kept in `lines`. */
function keptLog() {
  const lines: string[] = [];
  const log = createLogger('trace', new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  return { log, lines };
}

describe('concord serve: where the store is, as /api/status answers it', () => {
  const registry = seedRegistry();

  it('embedded DuckDB: the file\'s name, not its path', async () => {
    const dir = join(ws.dir, 'private-data-dir');
    const path = join(dir, 'store.duckdb');
    const writer = await openStore(`duckdb:${path}`, { registry });
    await writer.writeRealtime([{ kind: 'window', pipeline: P, windowStart: Date.parse(`${DATE}T10:00:00Z`), windowEnd: Date.parse(`${DATE}T10:01:00Z`),
      key: { url: '/a' }, values: { views: 1 }, revision: 0, watermark: null, definitionVersion: definitionVersion(registry.pipeline(P)) }]);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(`duckdb:${path}`, { registry }), log: createLogger('silent') });
    try {
      const status = await server.app.inject('/api/status');
      expect(status.json().store).toMatchObject({ backend: 'duckdb', location: 'duckdb:store.duckdb', status: 'ok' });
      expect(status.body).not.toContain('private-data-dir');
    } finally {
      await server.close();
    }
  });

  it('PostgreSQL: the URL without its password and query; the password in no answer and no log line', async () => {
    const schema = schemas.next('srv_location');
    const url = `${PG_URL.replace('postgres://postgres@', 'postgres://postgres:s3cret-pw@')}?application_name=srv-location&sslmode=disable`;
    expect(url).toContain('s3cret-pw'); // the test's PostgreSQL trusts, so the password is given and ignored
    const { log, lines } = keptLog();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry, schema }), log });
    try {
      const status = await server.app.inject('/api/status');
      const u = new URL(PG_URL);
      expect(status.json().store).toMatchObject({ backend: 'postgres', location: `postgres://postgres:***@${u.host}${u.pathname}`, schema, status: 'ok' });
      const answers = [status.body];
      for (const route of ['/readyz', '/metrics', '/api/days', `/api/pipelines/${P}`]) answers.push((await server.app.inject(route)).body);
      for (const body of answers) expect(body).not.toContain('s3cret');
      expect(status.body).not.toContain('sslmode');
    } finally {
      await server.close();
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain('s3cret');
  });
});
