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
});
