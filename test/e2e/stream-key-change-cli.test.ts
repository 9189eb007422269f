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
  }, 120_000);
});
