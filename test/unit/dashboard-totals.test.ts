import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { totalLabel } from '../../serve/dashboard/totals.js';
// @ts-expect-error as above
import { isoDateTemplate } from '../../serve/dashboard/charts.js';

const tumbling = { kind: 'tumbling', size: '15m', size_ms: 900_000 };
const hopping = { kind: 'hopping', size: '30m', size_ms: 1_800_000, every: '10m', every_ms: 600_000 };
const aggregates = [{ name: 'rides', fn: 'count' }, { name: 'revenue', fn: 'sum', field: 'fare' }, { name: 'avg_fare', fn: 'avg', field: 'fare' },
  { name: 'top_fare', fn: 'max', field: 'fare' }, { name: 'drivers', fn: 'approx_distinct', field: 'driver_id' }];

const p99 = { name: 'p99_fare', fn: 'approx_percentile', field: 'fare', quantile: 0.99 };
const low = { name: 'low_fare', fn: 'min', field: 'fare' };

// The live view's top table ranked every aggregate by its windows' values added up (an average fare of 25
// read as 668; a key with many quiet windows outranked the one with the highest max). Each aggregate is
// now ranked by its own combination over the range, and the header says which.
describe('the dashboard\'s ranking and total header', () => {
  it('adds up a count or a sum of windows that do not overlap: the total of the range', () => {
    expect(totalLabel(tumbling, aggregates, 'rides')).toMatchObject({ rank: 'sum', header: 'rides over the range' });
    expect(totalLabel(tumbling, aggregates, 'revenue')).toMatchObject({ rank: 'sum', header: 'revenue over the range' });
  });

  it('ranks a max, a percentile and a distinct count by the largest window, a min by the smallest, an average by the mean', () => {
    const all = [...aggregates, p99, low];
    expect(totalLabel(tumbling, all, 'top_fare')).toMatchObject({ rank: 'max', header: 'max of the windows\' top_fare' });
    expect(totalLabel(tumbling, all, 'p99_fare')).toMatchObject({ rank: 'max', header: 'max of the windows\' p99_fare' });
    expect(totalLabel(tumbling, all, 'p99_fare').title).toContain('a percentile over the range cannot be made from its windows\' percentiles');
    expect(totalLabel(tumbling, all, 'drivers')).toMatchObject({ rank: 'max', header: 'max of the windows\' drivers' });
    expect(totalLabel(tumbling, all, 'drivers').title).toContain('a driver_id seen in two windows is one');
    expect(totalLabel(tumbling, all, 'low_fare')).toMatchObject({ rank: 'min', header: 'min of the windows\' low_fare' });
    expect(totalLabel(tumbling, all, 'avg_fare')).toMatchObject({ rank: 'mean', header: 'mean of the windows\' avg_fare' });
    expect(totalLabel(tumbling, all, 'avg_fare').title).toContain('each window weighing the same (as avg_over_time)');
  });

  it('ranks a count of overlapping (hopping) windows by its largest window, saying how often their sum would count each event', () => {
    expect(totalLabel(hopping, aggregates, 'rides')).toEqual({
      rank: 'max',
      header: 'max of the windows\' rides',
      title: 'the largest rides of the range\'s windows (as max_over_time): the windows overlap (30m every 10m), so each event counts in 3 of them and their sum would count it as often',
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
