import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { totalLabel } from '../../serve/dashboard/totals.js';
// @ts-expect-error as above
import { isoDateTemplate } from '../../serve/dashboard/charts.js';

const tumbling = { kind: 'tumbling', size: '15m', size_ms: 900_000 };
const hopping = { kind: 'hopping', size: '30m', size_ms: 1_800_000, every: '10m', every_ms: 600_000 };
const aggregates = [{ name: 'rides', fn: 'count' }, { name: 'revenue', fn: 'sum', field: 'fare' }, { name: 'avg_fare', fn: 'avg', field: 'fare' },
  { name: 'top_fare', fn: 'max', field: 'fare' }, { name: 'drivers', fn: 'approx_distinct', field: 'driver_id' }];

// The live view's top table header: /top adds each key's windows' values up over the range; the page
// called every such total "<aggregate> over the range" (an average fare of 25 read as 668).
describe('the dashboard\'s total header', () => {
  it('is "over the range" only for a count or a sum of windows that do not overlap', () => {
    expect(totalLabel(tumbling, aggregates, 'rides').header).toBe('rides over the range');
    expect(totalLabel(tumbling, aggregates, 'revenue').header).toBe('revenue over the range');
    for (const a of ['avg_fare', 'top_fare', 'drivers']) {
      const label = totalLabel(tumbling, aggregates, a);
      expect(label.header).toBe(`sum of the windows' ${a}`);
      expect(label.title).toMatch(/added up is no .* over the range: it ranks the keys/);
    }
    expect(totalLabel(tumbling, aggregates, 'avg_fare').title).toContain('an avg added up is no avg over the range');
  });

  it('says how many times a hopping window counts each event', () => {
    expect(totalLabel(hopping, aggregates, 'rides')).toEqual({
      header: 'sum of the windows\' rides',
      title: 'the range\'s windows\' rides added up; the windows overlap (30m every 10m): each event counts in 3 of them',
    });
    const uneven = { ...hopping, size: '25m', size_ms: 1_500_000 };
    expect(totalLabel(uneven, aggregates, 'revenue').title).toContain('each event counts in up to 3 of them');
  });
});

// The chart's time axis: uPlot's defaults are US dates and 12-hour times (11/23/26, 8am), unlike every other time of the page.
describe('the chart time axis format', () => {
  it('writes ISO dates and 24-hour times', () => {
    expect(isoDateTemplate('{h}:{mm}{aa}\n{M}/{D}/{YY}')).toBe('{HH}:{mm}\n{YYYY}-{MM}-{DD}');
    expect(isoDateTemplate('{M}/{D}\n{YYYY}')).toBe('{MM}-{DD}\n{YYYY}');
    expect(isoDateTemplate('{h}{aa}')).toBe('{HH}');
  });
});
