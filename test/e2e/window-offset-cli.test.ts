import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concord, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Windows with an offset (Flink's): "24h" at offset "5h" are the local days of a zone at UTC-05:00,
// 05:00Z to 05:00Z, so one window holds events of two UTC days. Stream, replay and the reconciliation
// of the day (whose window reaches into the next day's archive partition) must agree on them.
const ws = tempWorkspace('concord-window-offset-');
afterAll(() => ws.cleanup());
const read = (path: string) => jsonLines(readFileSync(path, 'utf8'));

const definitions = {
  schemas: { rides: { time: 'pickup_at', id: 'ride_id', key: 'city', fields: { ride_id: 'string', pickup_at: 'timestamp', city: 'string', fare: 'decimal(2)' } } },
  pipelines: {
    per_local_day: {
      input: 'rides', key: 'city', window: { tumbling: '24h', offset: '5h' }, aggregates: { rides: 'count', revenue: ['sum', 'fare'] },
      max_out_of_orderness: '1h', allowed_lateness: '0s',
    },
    quarters: { input: 'rides', window: { hopping: '1h', every: '15m', offset: '-10m' }, aggregates: { rides: 'count' }, max_out_of_orderness: '1h', allowed_lateness: '0s' },
  },
};
const file = join(ws.dir, 'rides.json');
writeFileSync(file, JSON.stringify(definitions));
const events = ws.file('rides.jsonl', [
  { ride_id: 'a', pickup_at: '2026-11-23T04:59:59.999Z', city: 'NYC', fare: '1.00' }, // the local day before
  { ride_id: 'b', pickup_at: '2026-11-23T05:00:00Z', city: 'NYC', fare: '2.00' },
  { ride_id: 'c', pickup_at: '2026-11-23T23:50:00Z', city: 'NYC', fare: '4.00' },
  { ride_id: 'd', pickup_at: '2026-11-24T00:20:00Z', city: 'NYC', fare: '8.00' }, // the next UTC day, the same local day
  { ride_id: 'g', pickup_at: '2026-11-24T01:00:00Z', city: 'Boston', fare: '64.00' }, // only in 2026-11-24's archive partition
  { ride_id: 'e', pickup_at: '2026-11-24T04:59:59.999Z', city: 'NYC', fare: '16.00' },
  { ride_id: 'f', pickup_at: '2026-11-24T05:00:00Z', city: 'NYC', fare: '32.00' }, // the next local day
]);
const day = (from: string, to: string) => ({ window_start: `${from}T05:00:00.000Z`, window_end: `${to}T05:00:00.000Z` });
const expectedDays = [
  { ...day('2026-11-22', '2026-11-23'), city: 'NYC', rides: 1, revenue: 1 },
  { ...day('2026-11-23', '2026-11-24'), city: 'NYC', rides: 4, revenue: 30 },
  { ...day('2026-11-23', '2026-11-24'), city: 'Boston', rides: 1, revenue: 64 },
  { ...day('2026-11-24', '2026-11-25'), city: 'NYC', rides: 1, revenue: 32 },
];
const FIELDS = ['window_start', 'window_end', 'city', 'rides', 'revenue'];
const pick = (rows: Record<string, unknown>[], fields = FIELDS) => rows.map((r) => Object.fromEntries(fields.map((f) => [f, r[f]])));
const sorted = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe('a window offset through the CLI', () => {
  const archive = join(ws.dir, 'archive');
  beforeAll(() => {
    const r = concord(['archive', '--definitions', file, '--schema', 'rides', '--input', events, '--dir', archive]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('stream and replay put a 24h window at offset 5h over 05:00Z..05:00Z, across the UTC midnight, and agree', () => {
    const streamed = join(ws.dir, 'stream.jsonl'), replayed = join(ws.dir, 'replay.jsonl');
    const s = concord(['stream', '--definitions', file, '--pipeline', 'per_local_day', '--input', events, '--output', streamed, '--final']);
    expect(s.code, s.stderr).toBe(0);
    expect(sorted(pick(read(streamed)))).toEqual(sorted(expectedDays));
    const r = concord(['replay', '--definitions', file, '--pipeline', 'per_local_day', '--input', archive, '--output', replayed]);
    expect(r.code, r.stderr).toBe(0);
    expect(sorted(pick(read(replayed)))).toEqual(sorted(expectedDays));
    // The hopping windows at offset -10m start at :05, :20, :35, :50 in both runtimes.
    const hs = join(ws.dir, 'q-stream.jsonl'), hr = join(ws.dir, 'q-replay.jsonl');
    expect(concord(['stream', '--definitions', file, '--pipeline', 'quarters', '--input', events, '--output', hs, '--final']).code).toBe(0);
    expect(concord(['replay', '--definitions', file, '--pipeline', 'quarters', '--input', archive, '--output', hr]).code).toBe(0);
    const starts = (path: string) => [...new Set(read(path).map((x) => String(x.window_start).slice(14, 16)))].sort();
    expect(starts(hr)).toEqual(['05', '20', '35', '50']);
    expect(starts(hs)).toEqual(['05', '20', '35', '50']);
  });

  it('reconciling the changelog and the day in the store finds no difference, the next day\'s partition read', () => {
    for (const p of ['per_local_day', 'quarters']) {
      const realtime = join(ws.dir, `changelog-${p}.jsonl`), report = join(ws.dir, `report-${p}.json`);
      expect(concord(['stream', '--definitions', file, '--pipeline', p, '--input', events, '--output', realtime]).code).toBe(0);
      const rec = concord(['reconcile', '--definitions', file, '--pipeline', p, '--realtime', realtime, '--archive', archive, '--output', report, '--fail-on-unexplained']);
      expect(rec.code, rec.stderr).toBe(0);
      expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ different: 0, unexplained: 0 });
    }
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`, reports = join(ws.dir, 'reports');
    const s = concord(['stream', '--definitions', file, '--pipeline', 'per_local_day', '--input', events, '--output', join(ws.dir, 's.jsonl'), '--store', store]);
    expect(s.code, s.stderr).toBe(0);
    const rec = concord(['reconcile', '--definitions', file, '--pipeline', 'per_local_day', '--date', '2026-11-23', '--archive', archive, '--store', store, '--report-dir', reports]);
    expect(rec.code, rec.stderr + rec.stdout).toBe(0);
    const dayReport = JSON.parse(readFileSync(join(reports, '2026-11-23', 'per_local_day.json'), 'utf8')) as { report: Record<string, unknown> };
    // The day's cells: the window starting 2026-11-23T05:00Z, NYC and Boston (whose event is archived under 2026-11-24).
    expect(dayReport.report).toMatchObject({ cells: 2, equal: 2, different: 0, unexplained: 0 });
    const rep = concord(['report', '--definitions', file, '--date', '2026-11-23', '--store', store, '--pipeline', 'per_local_day', '--format', 'json']);
    expect(rep.code, rep.stderr).toBe(0);
    const rows = (JSON.parse(rep.stdout) as { pipelines: { rows: { window_start: string; window_end: string; key: Record<string, unknown>; values: Record<string, unknown> }[] }[] }).pipelines[0]!.rows;
    expect(sorted(pick(rows.map((r) => ({ window_start: r.window_start, window_end: r.window_end, ...r.key, ...r.values }))))).toEqual(sorted(expectedDays.slice(1, 3)));
  });

  it('explain names the offset and where the windows start', () => {
    const r = concord(['explain', '--definitions', file, '--pipeline', 'per_local_day']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tumbling 24h, [start, end) aligned to the epoch + 5h (the same as -19h): windows start at 1970-01-01T05:00:00.000Z and every 24h from it');
  });
});
