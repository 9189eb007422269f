import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `reconcile --date` of a day whose windows a live stream still has open (today, or yesterday before its
// last window ended plus B and L) published a version from a partial archive without a word.
const ws = tempWorkspace('concord-reconcile-open-day-');
afterAll(() => ws.cleanup());

describe('reconcile --date of a day not final yet', () => {
  it('says when its results are final; a past day says nothing', () => {
    const archive = join(ws.dir, 'archive');
    mkdirSync(archive, { recursive: true });
    const today = new Date().toISOString().slice(0, 10);
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const open = concord(['reconcile', '--date', today, '--pipeline', 'page_views_per_minute', '--archive', archive, '--store', store, '--report-dir', join(ws.dir, 'reports')]);
    const finalAt = new Date(Date.parse(`${today}T00:00:00.000Z`) + 86_400_000 + 30_000 + 300_000).toISOString(); // 1 min windows: the day's end + B 30s + L 5m
    expect(open.stderr).toContain(`reconcile page_views_per_minute ${today}: note: its results are final at ${finalAt} (the day's last window ends then, plus B and L)`);
    const past = concord(['reconcile', '--date', '2026-11-23', '--pipeline', 'page_views_per_minute', '--archive', archive, '--store', store, '--report-dir', join(ws.dir, 'reports')]);
    expect(past.stderr).not.toContain('note: its results are final');
  });

  it('a past day the stream has not read to its end (behind the clock) says so; a whole day says nothing', () => {
    // A replay of old data from Kafka reconciled a day the stream was a third into: the version published
    // held what was archived then, the stream's later rows of the day went to dirty cells, hidden from the
    // live version, and only the wall clock was asked ("a past day": no note).
    const run = (name: string, lastHour: number) => {
      const dir = join(ws.dir, name);
      mkdirSync(dir, { recursive: true });
      const events = ws.file(`${name}.jsonl`, Array.from({ length: lastHour * 6 + 1 }, (_, i) => (
        { event_id: `e${i}`, ts: new Date(Date.parse('2026-11-23T00:00:00Z') + i * 600_000 - (i === lastHour * 6 ? 10_000 : 0)).toISOString(), url: '/a', visitor_id: 'v' })));
      const store = `duckdb:${join(dir, 'store.duckdb')}`;
      for (const args of [['stream', '--pipeline', 'page_views_per_minute', '--input', events, '--output', join(dir, 'out.jsonl'), '--store', store],
        ['archive', '--schema', 'clicks', '--input', events, '--dir', join(dir, 'archive')]]) expect(concord(args).code, args[0]).toBe(0);
      const r = concord(['reconcile', '--date', '2026-11-23', '--pipeline', 'page_views_per_minute', '--archive', join(dir, 'archive'), '--store', store, '--report-dir', join(dir, 'reports')]);
      expect(r.code).toBe(0);
      return r.stderr;
    };
    expect(run('behind', 8)).toContain("reconcile page_views_per_minute 2026-11-23: note: the stream's watermark is at 2026-11-23T07:59:19.999Z, before the day's end " +
      '(it is behind the clock, or its input stopped there): this version holds what is archived now; rows of the day the stream writes later are kept aside as dirty cells, ' +
      'not shown, until the day is reconciled again (or backfilled) once the stream read events up to 2026-11-24T00:05:30.000Z');
    expect(run('whole', 24)).not.toContain('note:');
  }, 180_000);
});
