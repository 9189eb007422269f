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

  it('a rule with one card flooding its span ends the same way: the rule keeps events, counted against the budget too', () => {
    // 10,000 transactions of one card in 10 minutes; a 1 MB budget holds ~6,500 kept events of the fraud rule.
    // Before, a rule's state was counted nowhere: it grew until the heap ran out.
    const input = ws.file('hot-card.jsonl', Array.from({ length: 10_000 }, (_, i) => ({ txn_id: `t${i}`, ts: T0 + i * 60, user_id: 'card-1', country: ['US', 'DE'][i % 2], amount: '1.00' })));
    const r = concord(['stream', '--pipeline', 'fraud_multi_country', '--input', input, '--output', ws.file('alerts.jsonl')], { CONCORD_STATE_BUDGET_MB: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/fraud_multi_country keeps 6,\d{3} events \(each key's events within its span and the allowed lateness\), over its state budget of 1 MB .*key field \(user_id\).*CONCORD_STATE_BUDGET_MB/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const ok = concord(['stream', '--pipeline', 'fraud_multi_country', '--input', input, '--output', ws.file('alerts2.jsonl')], { CONCORD_STATE_BUDGET_MB: '8' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/10000 events/);
  });
});
