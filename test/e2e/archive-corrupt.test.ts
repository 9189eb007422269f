import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace('concord-corrupt-');
afterAll(() => ws.cleanup());
const T0 = Date.parse('2026-11-23T10:00:00Z');
const clicks = ws.file('clicks.jsonl', Array.from({ length: 300 }, (_, i) => ({ event_id: `c${i}`, ts: T0 + i * 1_000, url: `/p${i % 3}`, visitor_id: `v${i % 9}` })));
const txns = ws.file('txns.jsonl', Array.from({ length: 20 }, (_, i) => ({ txn_id: `t${i}`, ts: T0 + i * 1_000, user_id: 'u1', country: 'FR', amount: '1.00' })));
const parquet = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet') && !f.includes('_corrupt')).map((f) => join(dir, f));

describe('corrupt files in the archive', () => {
  it('truncated, not Parquet, another schema: reported by name, moved to _corrupt/, never read as data', () => {
    const dir = join(ws.dir, 'archive'), other = join(ws.dir, 'other');
    expect(concord(['archive', '--schema', 'clicks', '--input', clicks, '--dir', dir]).code).toBe(0);
    expect(concord(['archive', '--schema', 'transactions', '--input', txns, '--dir', other]).code).toBe(0);
    const clean = ws.file('clean.jsonl');
    expect(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', dir, '--output', clean]).code).toBe(0);

    const [good] = parquet(join(dir, 'clicks'));
    const hour = join(dir, 'clicks', 'dt=2026-11-23', 'hour=10');
    writeFileSync(join(hour, 'truncated-0-9.parquet'), readFileSync(good!).subarray(0, 500));
    writeFileSync(join(hour, 'text-0-9.parquet'), 'this is not parquet at all\n');
    copyFileSync(parquet(join(other, 'transactions'))[0]!, join(hour, 'foreign-0-9.parquet'));

    const out = ws.file('replayed.jsonl');
    const r = concord(['replay', '--pipeline', 'page_views_per_minute', '--input', dir, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(clean, 'utf8'));
    for (const [name, why] of [['truncated-0-9', /truncated/], ['text-0-9', /not a Parquet file/], ['foreign-0-9', /not an archive file of schema clicks: no column/]] as const) {
      expect(r.stderr).toContain(`${join(hour, `${name}.parquet`)} is not read`);
      const moved = join(dir, 'clicks', '_corrupt', `dt=2026-11-23__hour=10__${name}.parquet`);
      expect(existsSync(moved)).toBe(true);
      expect(readFileSync(`${moved}.reason`, 'utf8')).toMatch(why);
    }
  });

  it('reconcile --date: a truncated file is moved out and named, and the day is not published without its events (--force publishes)', () => {
    const dir = join(ws.dir, 'archive-day'), store = `duckdb:${join(ws.dir, 'day.duckdb')}`, reports = join(ws.dir, 'reports');
    // Three hours, a file each: the two files left explain the third's cells as an archive gap.
    const hours = ws.file('hours.jsonl', Array.from({ length: 360 }, (_, i) => ({ event_id: `h${i}`, ts: T0 + i * 30_000, url: `/p${i % 3}`, visitor_id: `v${i % 9}` })));
    expect(concord(['archive', '--schema', 'clicks', '--input', hours, '--dir', dir]).code).toBe(0);
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', hours, '--output', ws.file('rt.jsonl'), '--store', store]).code).toBe(0);
    const file = parquet(join(dir, 'clicks')).find((f) => f.includes('hour=11'));
    writeFileSync(file!, readFileSync(file!).subarray(0, 500));
    const day = ['reconcile', '--date', '2026-11-23', '--pipeline', 'page_views_per_minute', '--archive', dir, '--store', store, '--report-dir', reports];
    const r = concord(day);
    // Before: the evidence step read the archive first and died on the file (a stack trace, exit 1);
    // with the file moved out, its events' cells read as archive_gap and the smaller replay was published.
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toContain(`${file} is not read: no Parquet magic bytes at the end: truncated`);
    expect(r.stderr).toContain('page_views_per_minute 2026-11-23: not published: 1 archive file(s) of the day are corrupt and not read');
    expect(r.code, r.stderr).toBe(2);
    expect(concord(['report', '--date', '2026-11-23', '--pipeline', 'page_views_per_minute', '--store', store, '--format', 'json']).stdout).toMatch(/"liveGeneration": 0,/);
    const forced = concord([...day, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('page_views_per_minute 2026-11-23: version 1 live (was 0)');
  });
});
