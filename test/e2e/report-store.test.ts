import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { openStore } from '../../store/open-store.ts';
import { FARES, RIDES_DATE, RIDES_DEFINITIONS, fillRidesStore, ridesRegistry } from '../fixtures/rides-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The read-only commands against a store that is not what the user thinks: not there (a mistyped
// --store), there but empty, or filled under other definitions; and the report's words for a day
// (the API's: reconciled) and for a failed reconciliation (no previous version: null).
const ws = tempWorkspace('concord-report-store-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});
// The store here is filled and read under the default schema (`concord`), as by writers and readers that
// set none: an ambient CONCORD_STORE_SCHEMA (a developer's or a helper's shell) is removed for this file
// and the commands it runs, which set their own where a test needs one.
beforeAll(() => { vi.stubEnv('CONCORD_STORE_SCHEMA', undefined); });
afterAll(() => { vi.unstubAllEnvs(); });
const root = new URL('../..', import.meta.url).pathname;
const oneLine = (stderr: string) => stderr.trim().split('\n');

describe('concord report and serve on a store that is not what the user thinks', () => {
  const { registry, file } = ridesRegistry(ws.dir);
  const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
  beforeAll(async () => { await fillRidesStore(store, registry); }, 60_000);

  it('a DuckDB file that is not there: report and serve exit 2 with one line naming the path, and create nothing', () => {
    const path = join(ws.dir, 'nope', 'nope.duckdb');
    const advice = `no store at ${path}: run \`concord stream --store duckdb:${path} ...\` or \`concord demo\` first, or check --store (or CONCORD_STORE)`;
    const r = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', `duckdb:${path}`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toEqual([`concord report: ${advice}`]);
    // serve would listen for ever: a short timeout makes a regression fail fast instead of hanging.
    const s = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--definitions', file, '--store', `duckdb:${path}`, '--port', '0', '--log-level', 'silent'],
      { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(s.status, s.stderr).toBe(2);
    expect(oneLine(s.stderr)).toEqual([`concord serve: ${advice}`]);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(ws.dir, 'nope'))).toBe(false);
  });

  it('a PostgreSQL schema with no results: the report is a user error, not an empty report', () => {
    const schema = schemas.next('none');
    const r = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', PG_URL], { CONCORD_STORE_SCHEMA: schema });
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(`(schema ${schema}) holds no results: run \`concord stream --store`);
  });

  // A report (or serve) without the CONCORD_STORE_SCHEMA the writers ran with read an empty schema of the
  // same file and said only "run concord demo first": the results were there, under the other schema.
  it('an empty schema beside a filled one in the same file: the report names the filled schema and the variable', () => {
    const r = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', store], { CONCORD_STORE_SCHEMA: 'team_b' });
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toEqual([`concord report: the store ${store} (schema team_b) holds no results: run \`concord stream --store ${store} ...\` or \`concord demo\` first, ` +
      'or check --store (or CONCORD_STORE); the same database holds Concord results in schema concord: to read those, set CONCORD_STORE_SCHEMA to the schema ' +
      'the writers ran with (e.g. CONCORD_STORE_SCHEMA=concord)']);
  });

  it('a PostgreSQL database that does not exist is the URL\'s mistake (exit 2, what to do), not PostgreSQL down', () => {
    const url = new URL(PG_URL);
    url.pathname = '/concord_no_such_database';
    const r = concord(['report', '--date', RIDES_DATE, '--store', url.toString()]);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^concord report: database "concord_no_such_database" does not exist at postgres:.*: create it \(`createdb`\) or name another database in --store/);
  });

  it('a store filled under other definitions says which pipelines it holds and which the definitions name', () => {
    const r = concord(['report', '--date', RIDES_DATE, '--store', store]); // the seed definitions
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`the store ${store} holds the pipelines ${FARES}; the definitions \\(.*seed\\.definitions\\.json\\) name page_views_per_minute, unique_visitors_5m, fraud_multi_country: pass the --definitions the store was filled with`));
    const one = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', store, '--pipeline', 'driver_burst']);
    expect(one.code, one.stderr).toBe(2);
    expect(one.stderr).toContain(`holds no results of driver_burst (it holds ${FARES}): check --pipeline or --store`);
  });

  // A pipeline renamed in the definitions: the report of the new name was empty, and nothing said the
  // store still held the old name's rows (a new user took the day for lost).
  it('a pipeline renamed: the note on the new name, empty, names the old name the store holds and the definitions do not', async () => {
    const old = 'fares_hourly';
    const withOld = { ...RIDES_DEFINITIONS, pipelines: { [FARES]: RIDES_DEFINITIONS.pipelines[FARES], [old]: RIDES_DEFINITIONS.pipelines[FARES] } };
    const renamed = { ...RIDES_DEFINITIONS, pipelines: { [FARES]: RIDES_DEFINITIONS.pipelines[FARES], fares_by_hour: RIDES_DEFINITIONS.pipelines[FARES] } };
    const url = `duckdb:${join(ws.dir, 'renamed.duckdb')}`;
    const registry = parseDefinitions(withOld, 'with-old.json');
    await fillRidesStore(url, registry);
    const writer = await openStore(url, { registry });
    const def = registry.pipeline(old);
    const start = Date.parse(`${RIDES_DATE}T10:00:00.000Z`);
    await writer.writeRealtime([{ kind: 'window', pipeline: old, windowStart: start, windowEnd: start + 900_000, key: { city: 'Porto' },
      values: { rides: 1, revenue: 2, top_fare: 2, avg_km: 1, drivers: 1 }, revision: 0, watermark: start + 900_000, definitionVersion: definitionVersion(def) }]);
    await writer.close();
    const file = join(ws.dir, 'renamed.json');
    writeFileSync(file, JSON.stringify(renamed));
    const r = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`note: the store ${url} holds no results of fares_by_hour (reported empty); it holds results of ${old}, which the definitions do not name ` +
      '(renamed or removed: report those with the definitions they ran with)');
  });

  it('the report says the day is reconciled, as the API does, and a failed reconciliation replaced no version (null)', () => {
    const md = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', store]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain('| pipeline | day status | version | cells |');
    expect(md.stdout).toContain(`| ${FARES} | reconciled | not published (live now: 1) | 270 |`);
    expect(md.stdout).toContain('Day reconciled (watermark 2026-12-01T22:30:00.000Z); live version 1;');
    expect(md.stderr).toContain(`holds no results of driver_burst (reported empty)`);
    const json = concord(['report', '--definitions', file, '--date', RIDES_DATE, '--store', store, '--format', 'json', '--pipeline', FARES]);
    expect(json.code, json.stderr).toBe(0);
    const fares = (JSON.parse(json.stdout) as { pipelines: { status: Record<string, unknown>; reconciliation: Record<string, unknown> }[] }).pipelines[0]!;
    expect(fares.status).toMatchObject({ status: 'reconciled', sealed: false, liveGeneration: 1 });
    expect(fares.reconciliation).toMatchObject({ status: 'failed_unexplained', generation: null, previous_generation: null });
  });
});
