import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A definition whose key changed, streamed into a store that holds the old definition's rows of the same
// day: every cell is new, so nothing contradicts, and the day's stream rows came from two definitions
// (per region and per user side by side, each order counted twice) without a word. The run and the
// report must say so and name the backfill that recomputes the day under one.
const ws = tempWorkspace('concord-keychange-');
afterAll(() => ws.cleanup());
const at = (hhmm: string) => `2026-11-23T${hhmm}:00Z`;
const schemas = { orders: { time: 'ts', id: 'order_id', key: 'user', fields: { order_id: 'string', ts: 'timestamp', user: 'string', region: 'string' } } };
const defs = (key: string) => ws.file(`${key}.json`, [JSON.stringify({ schemas, pipelines: { sales: { input: 'orders', key: [key], window: { tumbling: '15m' }, aggregates: { n: 'count' } } } })]);
const events = ws.file('orders.jsonl', [
  { order_id: 'o1', ts: at('08:01'), user: 'u1', region: 'north' },
  { order_id: 'o2', ts: at('08:02'), user: 'u2', region: 'north' },
  { order_id: 'o3', ts: at('08:20'), user: 'u1', region: 'south' },
  { order_id: 'o4', ts: at('09:00'), user: 'u3', region: 'south' },
]);

describe('stream --store of a changed key into a day the old definition streamed', () => {
  it('says the day now mixes two definitions, and the report says so', () => {
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const stream = (key: string) => concord(['stream', '--definitions', defs(key), '--pipeline', 'sales', '--input', events, '--output', join(ws.dir, `${key}.out.jsonl`), '--store', store]);
    expect(stream('region').code).toBe(0);
    const changed = stream('user');
    expect(changed.code).toBe(0);
    expect(changed.stderr).toMatch(/sales: the stream's rows of 2026-11-23 now come from two definitions: 2026-11-23: \w+ \(3 rows\) and \w+ \(4 rows, this run\)/);
    expect(changed.stderr).toContain('concord backfill --from 2026-11-23 --to 2026-11-23 --pipeline sales --archive DIR');
    const report = concord(['report', '--definitions', defs('user'), '--date', '2026-11-23', '--store', store]);
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/!! The live rows mix definition versions \w+ \(\d rows\) and \w+ \(\d rows\)/);
    const json = concord(['report', '--definitions', defs('user'), '--date', '2026-11-23', '--store', store, '--format', 'json', '--output', join(ws.dir, 'r.json')]);
    expect(json.code).toBe(0);
    const p = (JSON.parse(readFileSync(join(ws.dir, 'r.json'), 'utf8')) as { pipelines: { definition_versions: Record<string, number> }[] }).pipelines[0]!;
    expect(Object.values(p.definition_versions).sort()).toEqual([3, 4]);
    // Each row names its definition version: a mixed day's rows are told apart (csv and json named none).
    const rows = (JSON.parse(readFileSync(join(ws.dir, 'r.json'), 'utf8')) as { pipelines: { rows: { key: Record<string, unknown>; definition_version: string }[] }[] }).pipelines[0]!.rows;
    const [perRegion] = Object.entries(p.definition_versions).find(([, n]) => n === 3)!;
    expect(rows.filter((r) => r.definition_version === perRegion).map((r) => Object.keys(r.key))).toEqual([['region'], ['region'], ['region']]);
    const csv = concord(['report', '--definitions', defs('user'), '--date', '2026-11-23', '--store', store, '--format', 'csv']);
    expect(csv.stdout.split('\n')[0]).toBe('pipeline,window_start,window_end,key,values,revision,provenance,generation,definition_version');
    expect(csv.stdout.trim().split('\n').slice(1).filter((l) => l.endsWith(`,${perRegion}`))).toHaveLength(3);
  }, 120_000);

  // A changed filter over cells the store holds: the run contradicts the stored rows. It named every other
  // version the store held for the pipeline (another day's too) and `--from D1 --to D2`: now the versions
  // and the days of this run's rows, and a backfill that names the pipeline.
  it('a changed filter over stored cells names the day and the version it contradicts, not the store\'s others', () => {
    const store = `duckdb:${join(ws.dir, 'filters.duckdb')}`;
    const next = ws.file('orders-24.jsonl', [
      { order_id: 'p1', ts: '2026-11-24T08:01:00Z', user: 'u1', region: 'north' },
      { order_id: 'p2', ts: '2026-11-24T08:02:00Z', user: 'u2', region: 'north' },
      { order_id: 'p3', ts: '2026-11-24T09:00:00Z', user: 'u3', region: 'south' },
    ]);
    const filtered = (name: string, where: unknown[]) => ws.file(`${name}.json`, [JSON.stringify({ schemas, pipelines: { sales: { input: 'orders', where, key: ['region'], window: { tumbling: '15m' }, aggregates: { n: 'count' } } } })]);
    const stream = (file: string, input: string) => concord(['stream', '--definitions', file, '--pipeline', 'sales', '--input', input, '--output', join(ws.dir, 'f.out.jsonl'), '--store', store]);
    expect(stream(defs('region'), events).code).toBe(0);
    const before = filtered('no-u3', [['user', '!=', 'u3']]);
    expect(stream(before, next).code).toBe(0);
    const after = stream(filtered('no-u2', [['user', '!=', 'u2']]), next);
    expect(after.code).toBe(0);
    const version = /sales\s+windowed\s+input orders, version (\w+)/.exec(concord(['validate', '--definitions', before]).stdout)![1]!;
    expect(after.stderr).toMatch(new RegExp(`!! \\d+ results contradict rows of the same windows that definition version ${version} of sales stored for 2026-11-24 \\(this run's is \\w+: the definition changed\\)`));
    expect(after.stderr).toContain('`concord backfill --from 2026-11-24 --to 2026-11-24 --pipeline sales --archive DIR`');
  }, 120_000);
});
