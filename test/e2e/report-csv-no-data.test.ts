import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `report --format csv` of a day the store holds nothing of wrote the header alone, exit 0, and said
// nothing: a loader (a BI tool's nightly import) took it for a day without traffic. md says "No data for
// this day", json has "empty": true; csv now says it on stderr, and stays the CSV it was.
const ws = tempWorkspace('concord-report-csv-no-data-');
afterAll(() => ws.cleanup());
const T0 = Date.parse('2026-11-23T10:00:00Z');
const input = ws.file('clicks.jsonl', Array.from({ length: 20 }, (_, i) => ({ event_id: `e${i}`, ts: T0 + i * 20_000, url: `/p${i % 2}`, visitor_id: `v${i}` })));
const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
const HEADER = 'pipeline,window_start,window_end,key,values,revision,provenance,generation,definition_version\n';

describe('report --format csv of a day without data', () => {
  it('says on stderr which pipelines hold nothing of the day; a day with rows says nothing', () => {
    const s = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', join(ws.dir, 'out.jsonl'), '--store', store]);
    expect(s.code, s.stderr).toBe(0);
    const empty = concord(['report', '--date', '2026-11-24', '--pipeline', 'page_views_per_minute', '--format', 'csv', '--output', join(ws.dir, 'empty.csv'), '--store', store]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(readFileSync(join(ws.dir, 'empty.csv'), 'utf8')).toBe(HEADER);
    expect(empty.stderr).toContain('note: no data of page_views_per_minute on 2026-11-24: nothing was streamed into the store or reconciled for it');
    const full = concord(['report', '--date', '2026-11-23', '--pipeline', 'page_views_per_minute', '--format', 'csv', '--output', join(ws.dir, 'full.csv'), '--store', store]);
    expect(full.code, full.stderr).toBe(0);
    expect(readFileSync(join(ws.dir, 'full.csv'), 'utf8').split('\n').length).toBeGreaterThan(2);
    expect(full.stderr).not.toContain('no data');
  });
});
