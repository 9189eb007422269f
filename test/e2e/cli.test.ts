import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { concord, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace('concord-cli-');
afterAll(() => ws.cleanup());
const read = (path: string) => jsonLines(readFileSync(path, 'utf8'));

// The worked example of docs/semantics.md plus bad lines, through the real CLI.
const input = ws.file('events.jsonl', [
  { event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' },
  { event_id: 'e2', ts: '1970-01-01T00:01:30.000Z', url: '/a', visitor_id: 'v2' },
  '{"event_id": "broken", ',
  { event_id: 'e3', ts: 1_000, url: '/a', visitor_id: 'v3' },
  { event_id: 'bad-ts', ts: '1970-01-01T00:00:01', url: '/a', visitor_id: 'v3' },
  { event_id: 'e4', ts: 150_000, url: '/a', visitor_id: 'v4' },
  { event_id: 'e5', ts: 2_000, url: '/a', visitor_id: 'v5' },
  { event_id: 'no-url', ts: 3_000, visitor_id: 'v5' },
]);
const timing = ['--max-out-of-orderness', '30s', '--allowed-lateness', '60000'];

describe('concord CLI', () => {
  it('has --help on every command', () => {
    const top = concord(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['demo', 'stream', 'archive', 'replay', 'reconcile']) {
      expect(top.stdout).toContain(cmd);
      const r = concord([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: concord ${cmd}`);
    }
  });

  it('stream writes the changelog, the late output and the dead letters', () => {
    const out = ws.file('out.jsonl'), late = ws.file('late.jsonl'), dlq = ws.file('dlq.jsonl');
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', out, '--late-output', late, '--dead-letter', dlq, ...timing]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/5 events, 4 results written \(changelog\), 1 late, 3 rejected/);
    const rows = read(out);
    expect(rows.map((x) => [x.window_start, x.views, x.revision])).toEqual([
      ['1970-01-01T00:00:00.000Z', 1, 0],
      ['1970-01-01T00:00:00.000Z', 2, 1],
      ['1970-01-01T00:01:00.000Z', 1, 0],
      ['1970-01-01T00:02:00.000Z', 1, 0],
    ]);
    expect(rows[0]).toMatchObject({ pipeline: 'page_views_per_minute', window_end: '1970-01-01T00:01:00.000Z', url: '/a', watermark: '1970-01-01T00:00:59.999Z' });
    expect(rows[0]!.definition_version).toMatch(/^[0-9a-f]{12}$/);
    const lates = read(late);
    expect(lates).toEqual([{
      pipeline: 'page_views_per_minute',
      event: { event_id: 'e5', ts: '1970-01-01T00:00:02.000Z', url: '/a', visitor_id: 'v5' },
      watermark: '1970-01-01T00:01:59.999Z',
      window_start: '1970-01-01T00:00:00.000Z',
      window_end: '1970-01-01T00:01:00.000Z',
    }]);
    const dead = read(dlq);
    expect(dead.map((d) => [d.offset, d.field])).toEqual([[2, null], [4, 'ts'], [7, 'url']]);
    expect(dead[1]!.reason).toMatch(/no time zone/);
  });

  it('stream of a rule: the summary counts the late events beyond the lateness (the late output) and those evaluated on arrival (the store keeps both)', () => {
    const txn = (id: string, ts: number, country: string) => ({ txn_id: id, ts, user_id: 'u1', country, amount: '1.00' });
    // B 30s, L 5m: after t1 at 10 min W is 9:29.999; t2 (5 min) is late within L, t3 (1 min) beyond it.
    const txns = ws.file('txns.jsonl', [txn('t0', 0, 'PT'), txn('t1', 600_000, 'ES'), txn('t2', 300_000, 'FR'), txn('t3', 60_000, 'DE')]);
    const late = ws.file('rule-late.jsonl');
    const r = concord(['stream', '--pipeline', 'fraud_multi_country', '--input', txns, '--output', ws.file('rule-out.jsonl'), '--late-output', late]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('4 events, 0 results written (changelog), 1 late (beyond the allowed lateness; 1 more within it, evaluated on arrival), 0 rejected');
    expect(read(late).map((l) => (l.event as { txn_id: string }).txn_id)).toEqual(['t3']);
  });

  it('stream --final keeps the highest revision per window and key', () => {
    const out = ws.file('final.jsonl');
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', out, '--final', ...timing]).code).toBe(0);
    expect(read(out).map((x) => [x.window_start, x.views, x.revision])).toEqual([
      ['1970-01-01T00:00:00.000Z', 2, 1],
      ['1970-01-01T00:01:00.000Z', 1, 0],
      ['1970-01-01T00:02:00.000Z', 1, 0],
    ]);
  });

  it('archive -> replay -> reconcile attributes the difference to the late event', () => {
    const dir = `${ws.dir}/archive`, replayOut = ws.file('replay.jsonl'), out = ws.file('rt.jsonl'), report = ws.file('report.json');
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', out, ...timing]).code).toBe(0);
    const a = concord(['archive', '--schema', 'clicks', '--input', input, '--dir', dir]);
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/archived 5 clicks events into 1 Parquet files, 3 rejected/);
    // A rerun replaces its files instead of duplicating rows.
    expect(concord(['archive', '--schema', 'clicks', '--input', input, '--dir', dir]).code).toBe(0);
    expect(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', dir, '--output', replayOut]).code).toBe(0);
    expect(read(replayOut).map((x) => [x.window_start, x.url, x.views])).toEqual([
      ['1970-01-01T00:00:00.000Z', '/a', 3],
      ['1970-01-01T00:01:00.000Z', '/a', 1],
      ['1970-01-01T00:02:00.000Z', '/a', 1],
    ]);
    const r = concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', out, '--archive', dir, '--output', report, ...timing]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep).toMatchObject({ cells: 3, equal: 2, different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } });
    expect(rep.differences[0]).toMatchObject({
      cell: { window_start: '1970-01-01T00:00:00.000Z', url: '/a' },
      realtime: { views: 2 },
      replay: { views: 3 },
      cause: 'late_beyond_lateness',
      late_events: [{ id: 'e5', offset: 6, watermark: '1970-01-01T00:01:59.999Z' }],
    });
    // With the default L = 5 min the realtime rows are another definition version's (B and L are part of
    // it): refused, saying so, instead of a report of "unexplained" differences whose cause is known.
    const wrong = concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', out, '--archive', dir, '--output', report, '--fail-on-unexplained']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/realtime results .*rt\.jsonl: computed by definition version [0-9a-f]{12} \(4 of 4 rows\) of page_views_per_minute, but these definitions give [0-9a-f]{12} \(B = 30s, L = 5m\)/);
    expect(wrong.stderr).toMatch(/--max-out-of-orderness \/ --allowed-lateness the stream ran with/);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  });

  it('says what was wrong and what to do', () => {
    const unknown = concord(['stream', '--pipeline', 'nope', '--input', input, '--output', ws.file('x.jsonl')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown pipeline "nope" in .*seed.definitions.json; pipelines: page_views_per_minute, unique_visitors_5m, fraud_multi_country/);
    const missing = concord(['stream', '--pipeline', 'page_views_per_minute']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--input is required/);
    const badDuration = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', ws.file('y.jsonl'), '--allowed-lateness', '5 minutes']);
    expect(badDuration.code).toBe(2);
    expect(badDuration.stderr).toMatch(/--allowed-lateness: "5 minutes" is not a duration/);
    const noFile = concord(['archive', '--schema', 'clicks', '--input', '/nonexistent.jsonl', '--dir', ws.dir]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/--input \/nonexistent.jsonl: no such file \(looked for \/nonexistent.jsonl\)/);
    const workers = concord(['run', '--pipeline', 'all', '--workers', '0']);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toMatch(/--workers "0": give a whole number of worker processes from 1 to 64/);
  });
});
