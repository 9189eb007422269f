import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A producer renamed `userId` to `user_id` for part of a day. `concord stream --store` ran under the day's
// definitions and dead-lettered the renamed events; the user then declared
// `"aliases": {"userId": ["user_id"]}` (the same definition version) and archived the day again, which now
// keeps them. `reconcile --date` against the store called their cells `unexplained` and `missing_window`
// (measured 2026-12-07: 5 + 5 of 10, exit 3, nothing published) while the file mode given the stream's
// dead letters named all 10 `parse_reject`: the store kept only the time quarantine's dead letters.
const ws = tempWorkspace('concord-alias-');
const schemas = testSchemas();
// The PostgreSQL store's schema is set per command below; an ambient one (a developer's shell) is not read.
beforeAll(() => { vi.stubEnv('CONCORD_STORE_SCHEMA', undefined); });
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const T = Date.UTC(2026, 11, 1, 8);
const DAY = '2026-12-01';
// 180 clicks 5 s apart, the 70 from 08:05 to 08:10:45 renamed; windows of 5 minutes, 5 URLs: the cells of
// 08:05 hold renamed events only (the stream wrote none), those of 08:10 some.
const lines = Array.from({ length: 180 }, (_, i) => ({
  event_id: `e${i}`, ts: new Date(T + i * 5_000).toISOString(), url: `/p${i % 5}`, ...(i >= 60 && i < 130 ? { user_id: `u${i % 7}` } : { userId: `u${i % 7}` }),
}));
// And the next day, renamed whole: the stream wrote no row of it.
const NEXT = '2026-12-02';
const next = Array.from({ length: 20 }, (_, i) => ({ event_id: `n${i}`, ts: new Date(T + 86_400_000 + i * 5_000).toISOString(), url: `/p${i % 5}`, user_id: `u${i % 7}` }));
const input = ws.file('day.jsonl', [...lines, ...next]);
const defs = (aliases?: Record<string, string[]>) => [{
  schemas: { clicks: { time: 'ts', id: 'event_id', key: 'userId', fields: { event_id: 'string', ts: 'timestamp', userId: 'string', url: 'string' }, ...(aliases ? { aliases } : {}) } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '5m' }, aggregates: { clicks: 'count', users: ['count_distinct', 'userId'] } } },
}];
const before = ws.file('before.json', defs()), after = ws.file('after.json', defs({ userId: ['user_id'] }));
const archive = join(ws.dir, 'archive');

type Report = { status: string; report: { different: number; causes: Record<string, number>; differences: { cause: string; late_events: { id: string }[] }[] } };
const named = (rep: Report['report']) => rep.differences.flatMap((d) => d.late_events.map((e) => e.id)).sort();
let fromFiles: Report['report'];

beforeAll(() => {
  // The archive as the docs say: the source archived again under the definitions with the alias.
  const a = concord(['archive', '--definitions', after, '--schema', 'clicks', '--input', input, '--dir', archive]);
  expect(a.code, a.stderr).toBe(0);
  expect(a.stderr).toContain('archived 200 clicks events');
  // The file mode, given the stream's dead letters: what the store mode is to say too.
  const out = ws.file('rt.jsonl'), dlq = ws.file('dlq.jsonl'), report = ws.file('file-report.json');
  expect(concord(['stream', '--definitions', before, '--pipeline', 'per_url', '--input', input, '--output', out, '--dead-letter', dlq]).code).toBe(0);
  const f = concord(['reconcile', '--definitions', after, '--pipeline', 'per_url', '--realtime', out, '--dead-letter', dlq, '--archive', archive, '--output', report]);
  expect(f.code, f.stderr).toBe(0);
  fromFiles = JSON.parse(readFileSync(report, 'utf8')) as Report['report'];
  expect(fromFiles).toMatchObject({ different: 15, causes: { parse_reject: 15, unexplained: 0 } });
});

describe.each([
  { name: 'DuckDB (embedded)', store: () => `duckdb:${join(ws.dir, 'store.duckdb')}`, schema: undefined },
  { name: 'PostgreSQL', store: () => PG_URL, schema: schemas.next('alias') },
])('store-mode reconcile after an alias: $name', ({ name, store, schema }) => {
  const env: Record<string, string> = schema === undefined ? {} : { CONCORD_STORE_SCHEMA: schema };
  it('names every cell the renamed events changed parse_reject, listing them, as the file mode does, and publishes', () => {
    const s = concord(['stream', '--definitions', before, '--pipeline', 'per_url', '--input', input, '--output', ws.file(`rt-${name}.jsonl`), '--store', store()], env);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toContain('90 rejected to the dead-letter output (counted only; the store keeps the positions of those refused for a field, for reconcile: pass --dead-letter FILE to keep them)');
    const reports = join(ws.dir, `reports-${schema ?? 'duckdb'}`);
    const r = concord(['reconcile', '--definitions', after, '--date', DAY, '--pipeline', 'per_url', '--archive', archive, '--store', store(), '--report-dir', reports], env);
    expect(r.code, r.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(join(reports, DAY, 'per_url.json'), 'utf8')) as Report;
    expect(stored).toMatchObject({ status: 'published', report: { different: 10, causes: { parse_reject: 10, unexplained: 0, missing_window: 0 } } });
    // Each renamed event named once, in the cell it fell in.
    expect(named(stored.report)).toEqual(lines.slice(60, 130).map((l) => l.event_id).sort());
    // A day the stream refused whole is no day it missed: its refusals name every cell, and it is published
    // (it said "no realtime rows ...: stream it", exit 2).
    const n = concord(['reconcile', '--definitions', after, '--date', NEXT, '--pipeline', 'per_url', '--archive', archive, '--store', store(), '--report-dir', reports], env);
    expect(n.code, n.stderr).toBe(0);
    const whole = JSON.parse(readFileSync(join(reports, NEXT, 'per_url.json'), 'utf8')) as Report;
    expect(whole).toMatchObject({ status: 'published', report: { different: 5, causes: { parse_reject: 5, unexplained: 0 } } });
    expect(named(whole.report)).toEqual(next.map((l) => l.event_id).sort());
    // The same events as the file mode names from the stream's dead-letter file.
    expect([...named(stored.report), ...named(whole.report)].sort()).toEqual(named(fromFiles));
  });
});
