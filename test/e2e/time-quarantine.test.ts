import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace('concord-time-');
afterAll(() => ws.cleanup());
const read = (path: string) => jsonLines(readFileSync(path, 'utf8'));

// The case a new user tried: 2,000 clicks, one stamped in 2100 at line 100, default B and L. Before the
// quarantine W jumped to 2100 and 1,900 clicks were late.
const T0 = Date.parse('2026-11-23T10:00:00Z');
const clicks = Array.from({ length: 2_000 }, (_, i) => ({ event_id: `e${i}`, ts: new Date(T0 + i * 1_000).toISOString(), url: `/p${i % 7}`, visitor_id: `v${i % 50}` }));
clicks[100] = { event_id: 'from-2100', ts: '2100-01-01T00:00:00Z', url: '/p1', visitor_id: 'v1' };
const input = ws.file('clicks.jsonl', clicks);
const views = (rows: Record<string, unknown>[]) => rows.reduce((a, r) => a + Number(r.views), 0);

describe('time that lies (max_future_skew)', () => {
  it('stream: every on-time click counted, the one event quarantined with its reference, nothing late', () => {
    const out = ws.file('rt.jsonl'), dlq = ws.file('dlq.jsonl'), late = ws.file('late.jsonl');
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', out, '--final', '--dead-letter', dlq, '--late-output', late]);
    expect(r.code, r.stderr).toBe(0);
    expect(views(read(out))).toBe(1_999);
    expect(read(late)).toEqual([]);
    expect(r.stderr).toMatch(/1999 events, .* 0 late, 1 rejected .*1 quarantined/);
    const [dead, ...more] = read(dlq);
    expect(more).toEqual([]);
    expect(dead).toMatchObject({ reason: 'future_timestamp', field: 'ts', offset: 100, reference_basis: 'wall clock' });
    // The reference: the wall clock when the line was read (during this test).
    expect(Math.abs(Date.parse(String(dead!.reference)) - Date.now())).toBeLessThan(120_000);
    expect(JSON.parse(String(dead!.raw))).toMatchObject({ event_id: 'from-2100' });
  });

  it('archive + replay judge the event the same way: same results, the event in _rejected with its reason', () => {
    const dir = join(ws.dir, 'archive'), out = ws.file('rt2.jsonl'), replayed = ws.file('replay.jsonl');
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', out, '--final']).code).toBe(0);
    const a = concord(['archive', '--schema', 'clicks', '--input', input, '--dir', dir]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/archived 1999 clicks events into \d+ Parquet files, 1 rejected/);
    // No partition of the year 2100.
    expect(readdirSync(join(dir, 'clicks')).filter((d) => d.startsWith('dt=')).every((d) => d.startsWith('dt=2026-11-23'))).toBe(true);
    const rejected = readdirSync(join(dir, 'clicks', '_rejected')).flatMap((f) => read(join(dir, 'clicks', '_rejected', f)));
    expect(rejected.map((d) => d.reason)).toEqual(['future_timestamp']);
    expect(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', dir, '--output', replayed]).code).toBe(0);
    const cells = (rows: Record<string, unknown>[]) => rows.map((x) => `${String(x.window_start)} ${String(x.url)} ${String(x.views)}`).sort();
    expect(cells(read(replayed))).toEqual(cells(read(out)));
  });

  it('"off" turns it off; a bad value is named in validate', () => {
    const defs = (skew: unknown) => ws.file(`defs-${String(skew)}.json`, [{
      schemas: { clicks: { time: 'ts', id: 'event_id', key: 'url', max_future_skew: skew, fields: { event_id: 'string', ts: 'timestamp', url: 'string', visitor_id: 'string' } } },
      pipelines: { views: { input: 'clicks', key: ['url'], window: { tumbling: '1m' }, aggregates: { views: 'count' } } },
    }]);
    const out = ws.file('off.jsonl');
    const r = concord(['stream', '--definitions', defs('off'), '--pipeline', 'views', '--input', input, '--output', out, '--final']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2000 events, .* 1899 late, 0 rejected/);
    const bad = concord(['validate', '--definitions', defs('soon')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/schemas\.clicks\.max_future_skew: "soon" is not a duration/);
  });

  // A file streamed first and archived later (docs/semantics.md "Time that lies"): at the stream's reading
  // `ahead` was beyond max_future_skew and quarantined; at the archive's its time had come (here: the
  // archive's definitions turn the quarantine off). The cell holding it beside `on-time` differed and
  // nothing named it (unexplained, measured in session 30): the stream's dead letters now do, from its
  // --dead-letter file or from the store it wrote them to.
  it('streamed first, archived later: reconcile names the cell the stream\'s quarantine changed future_timestamp, from the dead-letter file and from the store', () => {
    const M = Math.floor((Date.now() + 2 * 3_600_000) / 60_000) * 60_000;
    const schema = (skew: string) => ({ time: 'ts', id: 'event_id', key: 'url', max_future_skew: skew, fields: { event_id: 'string', ts: 'timestamp', url: 'string', visitor_id: 'string' } });
    const pipelines = { views: { input: 'clicks', key: ['url'], window: { tumbling: '1m' }, aggregates: { views: 'count' } } };
    // 45 s between the reference that separates the two events and `ahead`: the stream reads it well before.
    const streamDefs = ws.file('stream-defs.json', [{ schemas: { clicks: schema(`${M + 10_000 - Date.now()}ms`) }, pipelines }]);
    const archiveDefs = ws.file('archive-defs.json', [{ schemas: { clicks: schema('off') }, pipelines }]);
    const events = ws.file('ahead.jsonl', [
      { event_id: 'on-time', ts: new Date(M + 1_000).toISOString(), url: '/a', visitor_id: 'v1' },
      { event_id: 'ahead', ts: new Date(M + 55_000).toISOString(), url: '/a', visitor_id: 'v2' },
    ]);
    const out = ws.file('ahead-rt.jsonl'), dlq = ws.file('ahead-dlq.jsonl'), dir = join(ws.dir, 'ahead-archive'), store = `duckdb:${join(ws.dir, 'ahead.duckdb')}`;
    const s = concord(['stream', '--definitions', streamDefs, '--pipeline', 'views', '--input', events, '--output', out, '--dead-letter', dlq]);
    expect(s.code, s.stderr).toBe(0);
    expect(read(dlq).map((d) => [d.offset, d.reason])).toEqual([[1, 'future_timestamp']]);
    // Into the store without --dead-letter: the store keeps the verdict's position all the same, and says so
    // (it said "counted only").
    const stored1 = concord(['stream', '--definitions', streamDefs, '--pipeline', 'views', '--input', events, '--output', ws.file('ahead-rt-store.jsonl'), '--store', store]);
    expect(stored1.code, stored1.stderr).toBe(0);
    expect(stored1.stderr).toContain('(counted only; the store keeps the positions of those quarantined for their time, for reconcile: pass --dead-letter FILE to keep them)');
    expect(concord(['archive', '--definitions', archiveDefs, '--schema', 'clicks', '--input', events, '--dir', dir]).code).toBe(0);
    const reconcileFiles = (...more: string[]) => {
      const report = ws.file(`ahead-report-${more.length}.json`);
      const r = concord(['reconcile', '--definitions', streamDefs, '--pipeline', 'views', '--realtime', out, '--archive', dir, '--output', report, ...more]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(readFileSync(report, 'utf8')) as { causes: Record<string, number>; differences: { cause: string; realtime: { views: number }; replay: { views: number }; late_events: { id: string }[] }[] };
    };
    expect(reconcileFiles().causes).toMatchObject({ unexplained: 1, future_timestamp: 0 });
    const named = reconcileFiles('--dead-letter', dlq);
    expect(named.causes).toMatchObject({ unexplained: 0, future_timestamp: 1 });
    expect(named.differences.map((d) => [d.realtime.views, d.replay.views, d.cause, d.late_events.map((e) => e.id)])).toEqual([[1, 2, 'future_timestamp', ['ahead']]]);
    // The store kept the verdict beside the stream's rows: the nightly reconcile names it and publishes.
    const day = new Date(M).toISOString().slice(0, 10);
    const r = concord(['reconcile', '--definitions', streamDefs, '--date', day, '--pipeline', 'views', '--archive', dir, '--store', store, '--report-dir', join(ws.dir, 'ahead-reports')]);
    expect(r.code, r.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(join(ws.dir, 'ahead-reports', day, 'views.json'), 'utf8')) as { status: string; report: { causes: Record<string, number> } };
    expect(stored).toMatchObject({ status: 'published', report: { causes: { unexplained: 0, future_timestamp: 1 } } });
  });
  // The other direction of the time quarantine (past_horizon): the stream held `behind` as too old, an
  // archive without the setting counted it. Before 2026-12-07 the store kept only future_timestamp
  // verdicts: reconcile --date found the cell unexplained (failed_unexplained, nothing published) where
  // the stream's --dead-letter file named it.
  it('past_horizon: the store keeps the verdict like a future_timestamp one; reconcile --date names the cell as from the dead-letter file', () => {
    const M = Math.floor((Date.now() - 120_000) / 60_000) * 60_000;
    const schema = (horizon: string) => ({ time: 'ts', id: 'event_id', key: 'url', past_horizon: horizon, fields: { event_id: 'string', ts: 'timestamp', url: 'string', visitor_id: 'string' } });
    const pipelines = { views: { input: 'clicks', key: ['url'], window: { tumbling: '1m' }, aggregates: { views: 'count' } } };
    // `behind` (M + 1 s) is already beyond the horizon when the stream reads it; `recent` (M + 55 s) stays within it for 50 s.
    const streamDefs = ws.file('behind-defs.json', [{ schemas: { clicks: schema(`${Date.now() - (M + 5_000)}ms`) }, pipelines }]);
    const archiveDefs = ws.file('behind-archive-defs.json', [{ schemas: { clicks: schema('off') }, pipelines }]);
    const events = ws.file('behind.jsonl', [
      { event_id: 'behind', ts: new Date(M + 1_000).toISOString(), url: '/a', visitor_id: 'v1' },
      { event_id: 'recent', ts: new Date(M + 55_000).toISOString(), url: '/a', visitor_id: 'v2' },
    ]);
    const out = ws.file('behind-rt.jsonl'), dlq = ws.file('behind-dlq.jsonl'), dir = join(ws.dir, 'behind-archive'), store = `duckdb:${join(ws.dir, 'behind.duckdb')}`;
    const s = concord(['stream', '--definitions', streamDefs, '--pipeline', 'views', '--input', events, '--output', out, '--dead-letter', dlq, '--store', store]);
    expect(s.code, s.stderr).toBe(0);
    expect(read(dlq).map((d) => [d.offset, d.reason])).toEqual([[0, 'past_horizon']]);
    expect(concord(['archive', '--definitions', archiveDefs, '--schema', 'clicks', '--input', events, '--dir', dir]).code).toBe(0);
    const day = new Date(M).toISOString().slice(0, 10);
    type Report = { causes: Record<string, number>; differences: { cause: string; late_events: { id: string }[] }[] };
    const named = (report: Report) => [report.causes.unexplained, report.differences.map((d) => [d.cause, d.late_events.map((e) => e.id)])];
    const fromFile = ws.file('behind-report.json');
    const f = concord(['reconcile', '--definitions', streamDefs, '--pipeline', 'views', '--realtime', out, '--archive', dir, '--dead-letter', dlq, '--output', fromFile]);
    expect(f.code, f.stderr).toBe(0);
    // Reconcile names a difference of either time verdict future_timestamp (docs/semantics.md "Time that lies").
    expect(named(JSON.parse(readFileSync(fromFile, 'utf8')) as Report)).toEqual([0, [['future_timestamp', ['behind']]]]);
    const r = concord(['reconcile', '--definitions', streamDefs, '--date', day, '--pipeline', 'views', '--archive', dir, '--store', store, '--report-dir', join(ws.dir, 'behind-reports')]);
    expect(r.code, r.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(join(ws.dir, 'behind-reports', day, 'views.json'), 'utf8')) as { status: string; report: Report };
    expect(stored.status).toBe('published');
    expect(named(stored.report)).toEqual([0, [['future_timestamp', ['behind']]]]);
  });
});
