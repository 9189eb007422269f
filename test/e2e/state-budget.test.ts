import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace('concord-budget-');
afterAll(() => ws.cleanup());
const T0 = Date.parse('2026-11-23T10:00:00Z');

describe('a key-cardinality explosion', () => {
  it('ends in a clear error naming the pipeline, the budget and what to do (exit 2, no stack), not an out-of-memory crash', () => {
    // 20,000 distinct URLs in one minute; a 1 MB budget holds ~3,000 cells of page_views_per_minute.
    const input = ws.file('explosion.jsonl', Array.from({ length: 20_000 }, (_, i) => ({ event_id: `e${i}`, ts: T0 + (i % 50_000), url: `/u/${i}`, visitor_id: 'v' })));
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', ws.file('out.jsonl')], { CONCORD_STATE_BUDGET_MB: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/page_views_per_minute holds 3,\d{3} open \(window, key\) cells, over its state budget of 1 MB .*CONCORD_STATE_BUDGET_MB/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Within the budget the same input runs.
    const ok = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', ws.file('out2.jsonl')], { CONCORD_STATE_BUDGET_MB: '64' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/20000 events/);
    // A budget that is no number fell back to 2048 MB silently.
    const bad = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', ws.file('out3.jsonl')], { CONCORD_STATE_BUDGET_MB: '512MB' });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toBe('concord stream: environment CONCORD_STATE_BUDGET_MB "512MB": use a number of megabytes, at least 1 (default 2048)\n');
  });
});
