import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A producer on Flink's SQL timestamp format sends Oslo wall-clock times without a zone, across the
// night the clocks go back (2026-10-25, 03:00 +02:00 -> 02:00 +01:00). Through the CLI: without
// `time_zone` every such event is a dead letter saying what to add; with it, `stream --input` and
// `archive` + `replay` read them alike (the archive keeps the instant), and `reconcile` finds nothing.
const ws = tempWorkspace('concord-cli-time-zone-');
afterAll(() => ws.cleanup());

const file = (name: string, content: unknown) => {
  const path = join(ws.dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const defs = (extra: Record<string, unknown>) => file(`defs-${JSON.stringify(extra).replace(/\W/g, '')}.json`, {
  schemas: { s: { time: 'ts', id: 'id', max_future_skew: 'off', fields: { id: 'string', ts: 'timestamp', site: 'string' }, ...extra } },
  pipelines: { hourly: { input: 's', key: 'site', window: { tumbling: '1h' }, max_out_of_orderness: '1h', aggregates: { n: 'count', first: ['min', 'ts'] } } },
});
const events = [
  { id: 'a', ts: '2026-10-25 01:30:00', site: 'x' }, // +02:00: 2026-10-24T23:30Z
  { id: 'b', ts: '2026-10-25 02:30:00', site: 'x' }, // the repeated hour: the earlier offset, 00:30Z
  { id: 'c', ts: '2026-10-25T02:45:00.123456', site: 'x' }, // 00:45:00.123Z
  { id: 'd', ts: '2026-10-25 02:15:00+01:00', site: 'x' }, // the second 02:15, said with its offset: 01:15Z
  { id: 'e', ts: '2026-10-25 03:10:00', site: 'x' }, // +01:00: 02:10Z
  { id: 'f', ts: Date.UTC(2026, 9, 25, 2, 20), site: 'x' }, // epoch ms: 02:20Z
];
const input = file('events.jsonl', `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
const ok = (args: string[]) => {
  const r = concord(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
};
const cells = (path: string) => jsonLines(readFileSync(path, 'utf8')).map((r) => [r.window_start, r.n, new Date(r.first as number).toISOString()]);

describe('concord stream / archive / replay / reconcile over times without a zone', () => {
  it('without "time_zone": dead letters whose reason says what to add; validate names a bad zone', () => {
    const dlq = join(ws.dir, 'dlq.jsonl');
    const r = ok(['stream', '--pipeline', 'hourly', '--input', input, '--output', join(ws.dir, 'none.jsonl'), '--dead-letter', dlq, '--definitions', defs({})]);
    expect(r.stderr).toMatch(/6 lines read \(.*\), 4 rejected/);
    expect(jsonLines(readFileSync(dlq, 'utf8')).map((d) => [d.offset, d.reason])).toEqual([
      [0, 'ts: "2026-10-25 01:30:00" has no time zone; add "time_zone" to the schema (the producer\'s zone, e.g. "Europe/Oslo", or "UTC"), or send Z or an offset like +02:00'],
      [1, expect.stringMatching(/^ts: "2026-10-25 02:30:00" has no time zone; add "time_zone"/)],
      [2, expect.stringMatching(/^ts: "2026-10-25T02:45:00.123456" has no time zone; add "time_zone"/)],
      [4, expect.stringMatching(/^ts: "2026-10-25 03:10:00" has no time zone; add "time_zone"/)],
    ]);
    const bad = concord(['validate', '--definitions', defs({ time_zone: 'Europe/Olso' })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('schemas.s.time_zone: unknown time zone "Europe/Olso" (did you mean "Europe/Oslo"?)');
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('with "time_zone": stream == replay, each time read in Oslo (the repeated hour at +02:00), reconcile clean', () => {
    const oslo = defs({ time_zone: 'Europe/Oslo' });
    const streamed = join(ws.dir, 'stream.jsonl'), replayed = join(ws.dir, 'replay.jsonl'), archive = join(ws.dir, 'archive');
    const s = ok(['stream', '--pipeline', 'hourly', '--input', input, '--output', streamed, '--final', '--definitions', oslo]);
    expect(s.stderr).toMatch(/6 lines read \(.*\), 0 rejected/);
    ok(['archive', '--schema', 's', '--input', input, '--dir', archive, '--definitions', oslo]);
    ok(['replay', '--pipeline', 'hourly', '--input', archive, '--output', replayed, '--definitions', oslo]);
    const expected = [
      ['2026-10-24T23:00:00.000Z', 1, '2026-10-24T23:30:00.000Z'],
      ['2026-10-25T00:00:00.000Z', 2, '2026-10-25T00:30:00.000Z'],
      ['2026-10-25T01:00:00.000Z', 1, '2026-10-25T01:15:00.000Z'],
      ['2026-10-25T02:00:00.000Z', 2, '2026-10-25T02:10:00.000Z'],
    ];
    expect(cells(streamed)).toEqual(expected);
    expect(cells(replayed)).toEqual(expected);
    const report = join(ws.dir, 'report.json');
    ok(['reconcile', '--pipeline', 'hourly', '--realtime', streamed, '--archive', archive, '--output', report, '--fail-on-unexplained', '--definitions', oslo]);
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ different: 0, unexplained: 0 });
  }, 180_000);
});
