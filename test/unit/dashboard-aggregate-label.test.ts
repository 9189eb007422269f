import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { aggregateLabel } from '../../serve/dashboard/aggregate-label.js';

// The live view's aggregate picker named p50 and p99 of one field alike ("approx_percentile latency_ms")
// and hid an aggregate's own filter.
describe('the dashboard\'s aggregate picker label', () => {
  it('names a percentile\'s quantile and an aggregate\'s filter', () => {
    expect(aggregateLabel({ name: 'p50_ms', fn: 'approx_percentile', field: 'latency_ms', quantile: 0.5 })).toBe('p50_ms (approx_percentile latency_ms 0.5)');
    expect(aggregateLabel({ name: 'p99_ms', fn: 'approx_percentile', field: 'latency_ms', quantile: 0.99 })).toBe('p99_ms (approx_percentile latency_ms 0.99)');
    expect(aggregateLabel({ name: 'errors', fn: 'count', where: [{ field: 'status', op: '>=', value: 500 }, { field: 'path', op: 'is not null' }] }))
      .toBe('errors (count, where status >= 500 and path is not null)');
    expect(aggregateLabel({ name: 'revenue', fn: 'sum', field: 'fare' })).toBe('revenue (sum fare)');
  });
});
