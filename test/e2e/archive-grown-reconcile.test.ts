import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord, concordOk } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A new user's day: `stream --store` over day.jsonl, `archive` it, `reconcile --date` it; the file grows
// (a log still written: more events, some late), the user archives it again and reconciles the day again.
// The second archiving rewrote the whole file, so every event of it counted as added after the first
// reconcile: the cells holding old and new events could not be explained (10 unexplained, no correction
// published). Only the appended lines are added now, and each difference is archive_added.
const ws = tempWorkspace('concord-grown-day-');
afterAll(() => ws.cleanup());
const DAY = '2026-11-23';
const T0 = Date.UTC(2026, 10, 23, 10);
const URLS = ['/a', '/b', '/c'];
const click = (i: number, ts: number) => JSON.stringify({ event_id: `e${i}`, ts: new Date(ts).toISOString(), url: URLS[i % 3], visitor_id: `v${i % 7}` });
const first = Array.from({ length: 200 }, (_, i) => click(i, T0 + i * 3000));
// Every tenth appended event is late: back in the first minutes.
const appended = Array.from({ length: 100 }, (_, j) => click(200 + j, j % 10 === 0 ? T0 + j * 3000 : T0 + (200 + j) * 3000));

describe('archive a grown file, then reconcile its day again', () => {
  it('the appended events explain every difference (archive_added), none unexplained', () => {
    const input = join(ws.dir, 'day.jsonl');
    const archive = join(ws.dir, 'archive');
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const reports = join(ws.dir, 'reports');
    const reconcileDay = () => concord(['reconcile', '--date', DAY, '--pipeline', 'page_views_per_minute', '--archive', archive, '--store', store, '--report-dir', reports]);
    writeFileSync(input, `${first.join('\n')}\n`);
    concordOk(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', join(ws.dir, 'out.jsonl'), '--store', store]);
    concordOk(['archive', '--schema', 'clicks', '--input', input, '--dir', archive]);
    expect(reconcileDay().code).toBe(0);
    appendFileSync(input, `${appended.join('\n')}\n`);
    const again = concordOk(['archive', '--schema', 'clicks', '--input', input, '--dir', archive]);
    const r = reconcileDay();
    expect(r.code, r.stderr).toBe(0);
    // Expected from the raw lines: the (minute, url) cells the appended events fall in.
    const cells = new Set(appended.map((l) => JSON.parse(l) as { ts: string; url: string }).map((e) => `${Math.floor(Date.parse(e.ts) / 60_000)} ${e.url}`));
    const report = (JSON.parse(readFileSync(join(reports, DAY, 'page_views_per_minute.json'), 'utf8')) as { report: { different: number; unexplained: number; causes: Record<string, number> } }).report;
    expect(report).toMatchObject({ different: cells.size, unexplained: 0, causes: { archive_added: cells.size } });
    expect(again.stderr).toContain('archived 100 clicks events into');
    expect(again.stderr).toContain('its lines 200-299 were added, the 200 before kept as archived');
  });
});
