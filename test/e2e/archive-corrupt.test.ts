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
});
