import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concordOk, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A latency dashboard's percentiles end to end through the CLI: `stream --store` and `replay` give the
// same numbers (int, decimal and double fields, one with a filter of its own, null where no value is), the
// replay the exact value beside each,
// `explain` shows the aggregate and its bucket SQL, and `reconcile --date` explains every cell.
const ws = tempWorkspace('concord-cli-percentile-');
afterAll(() => ws.cleanup());

const T = Date.UTC(2024, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const definitions = {
  schemas: {
    requests: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', path: 'string', status: 'int', latency_ms: 'int?', price: 'decimal(2)?', size_kb: 'double?' } },
  },
  pipelines: {
    latency: {
      input: 'requests', key: 'path', window: { tumbling: '1m' }, max_out_of_orderness: '5s', allowed_lateness: '0ms',
      aggregates: {
        requests: 'count', p50_ms: ['approx_percentile', 'latency_ms', 0.5], p99_ms: ['approx_percentile', 'latency_ms', 0.99],
        p50_price: ['approx_percentile', 'price', 0.5], error_p90_kb: ['approx_percentile', 'size_kb', 0.9, { where: [['status', '>=', 500]] }],
      },
    },
  },
};
// [path, status, latency, price, size] at T + i s; then a late request for the first minute.
const early: [string, number, number | null, string | null, number | null][] = [
  ['/a', 200, 12, '12.34', 0.5], ['/a', 500, 1001, '0.50', 2.75], ['/a', 200, 15, null, null], ['/a', 503, 300, '99.99', -1.25], ['/a', 200, 7, null, 1e-3],
  ['/b', 200, null, null, null],
];
const events = [
  ...early.map(([path, status, latency, price, size], i) => ({
    id: `e${i}`, ts: iso(T + i * 1000), path, status, ...(latency === null ? {} : { latency_ms: latency }), ...(price === null ? {} : { price }), ...(size === null ? {} : { size_kb: size }),
  })),
  { id: 'next', ts: iso(T + 120_000), path: '/a', status: 200, latency_ms: 40 },
  { id: 'late', ts: iso(T + 20_000), path: '/a', status: 200, latency_ms: 5000 },
];

describe('approx_percentile through the CLI', () => {
  it('stream and replay give the same numbers; explain shows it; reconcile explains every cell', () => {
    const defs = ws.file('defs.json', [definitions]);
    const input = ws.file('events.jsonl', events);
    const archive = join(ws.dir, 'archive');
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const ok = (args: string[]) => concordOk([...args, '--definitions', defs]);
    ok(['archive', '--schema', 'requests', '--input', input, '--dir', archive]);
    const keep = ['window_start', 'path', 'requests', 'p50_ms', 'p99_ms', 'p50_price', 'error_p90_kb'];
    const read = (path: string) => jsonLines(readFileSync(path, 'utf8')).map((r) => Object.fromEntries(keep.filter((k) => k in r).map((k) => [k, r[k]])));
    const streamOut = join(ws.dir, 'stream.jsonl'), replayOut = join(ws.dir, 'replay.jsonl');
    ok(['stream', '--pipeline', 'latency', '--input', input, '--output', streamOut, '--final', '--store', store]);
    ok(['replay', '--pipeline', 'latency', '--input', archive, '--output', replayOut]);
    const streamed = read(streamOut), replayed = read(replayOut);
    // The stream emits a cell's revisions; its last one per cell is what the replay gives (the late request aside).
    const last = [...new Map(streamed.map((r) => [`${r.window_start as string} ${r.path as string}`, r])).values()];
    const a = { window_start: iso(T), path: '/a' };
    // p99 of 7, 12, 15, 300, 1001: the 5th, 1001 in the bucket [1000, 1004); p50 the 3rd, 15 (exact below 256).
    // Prices 12.34, 0.50, 99.99 as minor units: the 2nd, 1234 in [1232, 1240). Sizes of the 5xx: 2.75 and -1.25, the 2nd.
    expect(last.find((r) => r.window_start === iso(T) && r.path === '/a')).toEqual({ ...a, requests: 5, p50_ms: 15, p99_ms: 1000, p50_price: 12.32, error_p90_kb: 2.75 });
    // No value (no latency, no 5xx): null, as sum, min and max are.
    expect(last.find((r) => r.path === '/b')).toEqual({ window_start: iso(T), path: '/b', requests: 1, p50_ms: null, p99_ms: null, p50_price: null, error_p90_kb: null });
    // The late request counts in the replay only: 5000 in [4992, 5024).
    expect(replayed.find((r) => r.window_start === iso(T) && r.path === '/a')).toEqual({ ...a, requests: 6, p50_ms: 15, p99_ms: 4992, p50_price: 12.32, error_p90_kb: 2.75 });
    expect(replayed.filter((r) => !(r.window_start === iso(T) && r.path === '/a'))).toEqual(last.filter((r) => !(r.window_start === iso(T) && r.path === '/a')));
    // Beside each estimate, the exact nearest-rank value (`<output>_exact`), as beside an HLL's: null over no value.
    const exactOf = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k.endsWith('_exact')));
    const replayedRows = jsonLines(readFileSync(replayOut, 'utf8'));
    expect(exactOf(replayedRows.find((r) => r.window_start === iso(T) && r.path === '/a')!)).toEqual({ p50_ms_exact: 15, p99_ms_exact: 5000, p50_price_exact: 12.34, error_p90_kb_exact: 2.75 });
    expect(exactOf(replayedRows.find((r) => r.path === '/b')!)).toEqual({ p50_ms_exact: null, p99_ms_exact: null, p50_price_exact: null, error_p90_kb_exact: null });

    const plan = ok(['explain', '--pipeline', 'latency']).stdout;
    expect(plan).toContain('p99_ms = approx_percentile(latency_ms, 0.99): a log-linear histogram');
    expect(plan).toContain('error_p90_kb = approx_percentile(size_kb, 0.9): a log-linear histogram, a count per bucket of 2^-7 relative width (exact bucketing, bit-identical in replay), of the events where status >= 500');
    expect(plan).toContain('floor(log2(abs(__x)))::INTEGER');
    expect(plan).toContain('CASE WHEN coalesce(("status" >= 500), false) THEN "size_kb" END');

    const reconciled = ok(['reconcile', '--date', '2024-01-01', '--archive', archive, '--store', store, '--report-dir', join(ws.dir, 'reports')]).stdout;
    // Three cells, two equal, one different by the late request, none unexplained.
    expect(reconciled).toMatch(/\| latency \| reconciled \| 1 \| 3 \| 2 \| 1 \| 0 \| 0 \| [^|]+ \| [^|]+ \| 0 \|/);
  }, 180_000);
});
