import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concordOk, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An error rate per minute in one pipeline (requests and 5xx ones in one row), end to end through the
// CLI: `stream --input` and `replay` give the same rows, a 0 count and null sums where no event passes
// an aggregate's filter, a late 5xx late for every aggregate; `reconcile --date` explains every cell
// (the sketch-free pipeline replays through the cell table, the other through records).
const ws = tempWorkspace('concord-cli-filtered-');
afterAll(() => ws.cleanup());

const T = Date.UTC(2024, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const ERRORS = [['status', '>=', 500]];
const aggregates = {
  requests: 'count',
  errors: ['count', { where: ERRORS }],
  error_bytes: ['sum', 'bytes', { where: ERRORS }],
  worst: ['max', 'status', { where: ERRORS }],
};
const definitions = {
  schemas: { requests: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', path: 'string', status: 'int?', bytes: 'int?', user_id: 'string' } } },
  pipelines: {
    error_rate: {
      input: 'requests', where: [['path', '!=', '/health']], key: 'path', window: { tumbling: '1m' }, max_out_of_orderness: '5s', allowed_lateness: '0ms',
      aggregates: { ...aggregates, error_users: ['approx_distinct', 'user_id', { where: [['status', 'in', [500, 503]]] }] },
    },
    error_rate_exact: { input: 'requests', key: 'path', window: { tumbling: '1m' }, max_out_of_orderness: '5s', allowed_lateness: '0ms', aggregates },
  },
};
// [path, status, bytes, user] at T + i s; then one event a minute later, and a late 5xx for the first minute.
const early: [string, number | null, number | null, string][] = [
  ['/a', 200, 100, 'u1'], ['/a', 500, 300, 'u2'], ['/a', 503, null, 'u3'], ['/a', 200, 50, 'u1'],
  ['/b', 200, 10, 'u4'], ['/b', 404, 5, 'u4'], ['/b', null, 7, 'u4'], ['/c', 502, null, 'u5'], ['/health', 500, 1, 'u9'],
];
const events = [
  ...early.map(([path, status, bytes, user], i) => ({ id: `e${i}`, ts: iso(T + i * 1000), path, user_id: user, ...(status === null ? {} : { status }), ...(bytes === null ? {} : { bytes }) })),
  { id: 'next', ts: iso(T + 120_000), path: '/a', status: 200, bytes: 1, user_id: 'u1' },
  { id: 'late', ts: iso(T + 20_000), path: '/b', status: 500, bytes: 999, user_id: 'u8' },
];

describe('stream and replay of aggregates with filters of their own', () => {
  it('give the same rows, 0 counts and null sums where no event passes a filter; reconcile explains every cell', () => {
    const defs = ws.file('defs.json', [definitions]);
    const input = ws.file('events.jsonl', events);
    const archive = join(ws.dir, 'archive');
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const ok = (args: string[]) => concordOk([...args, '--definitions', defs]);
    ok(['archive', '--schema', 'requests', '--input', input, '--dir', archive]);
    const rows = (p: string, how: 'stream' | 'replay') => {
      const out = join(ws.dir, `${p}.${how}.jsonl`);
      if (how === 'stream') ok(['stream', '--pipeline', p, '--input', input, '--output', out, '--final', '--late-output', `${out}.late`, '--store', store]);
      else ok(['replay', '--pipeline', p, '--input', archive, '--output', out]);
      const keep = ['window_start', 'path', 'requests', 'errors', 'error_bytes', 'worst', 'error_users', 'definition_version'];
      return jsonLines(readFileSync(out, 'utf8')).map((r) => Object.fromEntries(keep.filter((k) => k in r).map((k) => [k, r[k]])));
    };
    for (const p of Object.keys(definitions.pipelines)) {
      const streamed = rows(p, 'stream'), replayed = rows(p, 'replay');
      const isLateCell = (r: Record<string, unknown>) => r.window_start === iso(T) && r.path === '/b';
      expect(replayed.filter((r) => !isLateCell(r))).toEqual(streamed.filter((r) => !isLateCell(r)));
      // The late 5xx is late for its window, so for every aggregate of it: the stream's /b has no error,
      // the replay's (complete data, no lateness) has it in each.
      expect(jsonLines(readFileSync(join(ws.dir, `${p}.stream.jsonl.late`), 'utf8')).map((l) => (l.event as { id: string }).id)).toEqual(['late']);
      expect(replayed.find(isLateCell)).toMatchObject({ requests: 4, errors: 1, error_bytes: 999, worst: 500, ...(p === 'error_rate' ? { error_users: 1 } : {}) });
      const cell = (start: number, path: string) => streamed.find((r) => r.window_start === iso(start) && r.path === path);
      const sketch = p === 'error_rate' ? { error_users: 2 } : {};
      expect(cell(T, '/a')).toMatchObject({ requests: 4, errors: 2, error_bytes: 300, worst: 503, ...sketch });
      // No 5xx: a count is 0, a sum or max over no event null, a distinct count 0; the status-less event counts as a request only.
      expect(cell(T, '/b')).toMatchObject({ requests: 3, errors: 0, error_bytes: null, worst: null, ...(p === 'error_rate' ? { error_users: 0 } : {}) });
      // A 5xx without bytes: counted, its sum null; status 502 is not one the sketch takes.
      expect(cell(T, '/c')).toMatchObject({ requests: 1, errors: 1, error_bytes: null, worst: 502, ...(p === 'error_rate' ? { error_users: 0 } : {}) });
      expect(cell(T + 120_000, '/a')).toMatchObject({ requests: 1, errors: 0, error_bytes: null });
      // The pipeline's where keeps /health out of error_rate altogether; the other pipeline has it.
      expect(cell(T, '/health')).toEqual(p === 'error_rate' ? undefined : expect.objectContaining({ requests: 1, errors: 1, error_bytes: 1 }));
    }
    // explain: each filter in the stream plan and in the replay's SQL (the sketch's in its histogram query).
    const plan = ok(['explain', '--pipeline', 'error_rate']).stdout;
    expect(plan).toContain('errors = count: one counter, of the events where status >= 500;');
    expect(plan).toContain('error_users = approx_distinct(user_id): HyperLogLog, 2^14 registers (pinned MurmurHash3, bit-identical in replay), of the events where status in (500, 503)');
    expect(plan).toContain('count(*) FILTER (WHERE ("status" >= 500)) AS __a1');
    expect(plan).toContain('max("status") FILTER (WHERE ("status" >= 500)) AS __a3');
    expect(plan).toContain('CASE WHEN coalesce(("status" IN (500, 503)), false) THEN');
    const reconciled = ok(['reconcile', '--date', '2024-01-01', '--archive', archive, '--store', store, '--report-dir', join(ws.dir, 'reports')]).stdout;
    // Every cell but the late one's equal; that one attributed to the late event, none unexplained: the
    // shadow replay (the archive without the late event) gives each filtered value the stream gave.
    expect(reconciled).toMatch(/\| error_rate \| reconciled \| 1 \| 4 \| 3 \| 1 \| 0 \| 0 \| [^|]+ \| [^|]+ \| 0 \|/);
    expect(reconciled).toMatch(/\| error_rate_exact \| reconciled \| 1 \| 5 \| 4 \| 1 \| 0 \| 0 \| [^|]+ \| [^|]+ \| 0 \|/);
    expect(reconciled).toMatch(/\| error_rate \| 1 \| 0 \| (0 \| ){10}0 \|/);
    expect(reconciled).toMatch(/\| error_rate_exact \| 1 \| 0 \| (0 \| ){10}0 \|/);
  }, 180_000);
});
