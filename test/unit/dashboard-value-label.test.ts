import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { valueLabel } from '../../serve/dashboard/aggregate-label.js';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { describePipeline } from '../../serve/routes/pipelines.ts';

// The dashboard's charts drew bare numbers: a count, a sum of a decimal field and a percentile in ms
// looked alike. Each chart's value axis now says what the aggregate is, with the unit its field's type gives.
describe('the dashboard\'s value axis label', () => {
  const defs = parseDefinitions({
    schemas: { rides: { time: 'at', id: 'id', key: 'city', fields: { id: 'string', at: 'timestamp', city: 'string', fare: 'decimal(2)', latency_ms: 'double?', driver: 'string' } } },
    pipelines: {
      fares: {
        input: 'rides', key: ['city'], window: { tumbling: '15m' },
        aggregates: { rides: 'count', revenue: ['sum', 'fare'], p99_ms: ['approx_percentile', 'latency_ms', 0.99], drivers: ['count_distinct', 'driver'], last_at: ['max', 'at'], p999: ['approx_percentile', 'latency_ms', 0.999] },
      },
    },
  }, 'test');
  const p = describePipeline(defs.pipeline('fares'));
  const label = (name: string) => valueLabel(p.aggregates!.find((a) => a.name === name), p.field_types);

  it('says what each aggregate is and its field\'s unit where the type gives one', () => {
    expect(p.field_types).toEqual({ fare: 'decimal(2)', latency_ms: 'double?', driver: 'string', at: 'timestamp' });
    expect(label('rides')).toBe('count of events');
    expect(label('revenue')).toBe('sum of fare (decimal, 2 places)');
    expect(label('p99_ms')).toBe('p99 of latency_ms (approx.)');
    expect(label('p999')).toBe('p99.9 of latency_ms (approx.)');
    expect(label('drivers')).toBe('distinct driver');
    expect(label('last_at')).toBe('max of at (epoch ms)');
  });

  it('names the aggregate and its field without field types (an older server)', () => {
    expect(valueLabel({ name: 'avg_km', fn: 'avg', field: 'distance_km' })).toBe('mean of distance_km');
  });
});
