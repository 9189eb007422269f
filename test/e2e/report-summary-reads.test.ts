import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { reportCommand } from '../../cli/commands/report.ts';
import { StoreReads } from '../../store/store-reads.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `report --format md` without --cells prints a summary and the number of live cells, but it read every
// row of the day to count them: 5M clicks (353k cells) took 7.7 s and 985 MB for a 10 KB report, more
// with every cell of a bigger day. It now counts them in the store; the rows are read for csv, json and
// --cells only, and always a part at a time (md --cells held the day's rows for its table).
const ws = tempWorkspace('concord-report-summary-');
afterAll(() => ws.cleanup());
afterEach(() => { vi.restoreAllMocks(); });
const T0 = Date.parse('2026-11-23T10:00:00Z');
const input = ws.file('clicks.jsonl', Array.from({ length: 60 }, (_, i) => ({ event_id: `e${i}`, ts: T0 + i * 20_000, url: `/p${i % 4}`, visitor_id: `v${i}` })));
const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;

describe('report: the Markdown summary reads no rows', () => {
  it('streams a day', () => {
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', join(ws.dir, 'out.jsonl'), '--store', store]);
    expect(r.code, r.stderr).toBe(0);
  });

  it.each([
    ['md', false, false],
    ['md', true, true],
    ['csv', false, true],
  ])('--format %s, --cells %s: rows read %s', async (format, cells, readsRows) => {
    const current = vi.spyOn(StoreReads.prototype, 'current');
    const inParts = vi.spyOn(StoreReads.prototype, 'currentInParts'); // csv, json, md --cells: a part at a time
    const output = join(ws.dir, `report-${format}-${cells}`);
    const code = await reportCommand.run({ date: '2026-11-23', pipeline: 'page_views_per_minute', format, cells, output, store });
    expect(code).toBe(0);
    expect(inParts.mock.calls.length > 0).toBe(readsRows);
    expect(current).not.toHaveBeenCalled(); // never the whole day at once
    const text = readFileSync(output, 'utf8');
    // 60 clicks over 20 minutes, 3 a minute, each of another url: 60 cells, counted the same either way.
    if (format === 'md' && !cells) expect(text).toContain('\n60 cells live (every cell: --cells');
    if (format === 'csv') expect(text.trim().split('\n')).toHaveLength(61);
    if (format === 'md' && cells) expect(text.split('\n').filter((l) => l.startsWith('| 2026-11-23T'))).toHaveLength(60);
  });
});
