// How the live view's top table ranks a pipeline's keys over the chart's range, and what its total column
// says. It ranked every aggregate by its windows' values added up (/top's default), which means something
// only for a count or a sum over windows that do not overlap: the page said "sum of the windows' max_ms"
// and ranked a key with many quiet windows above one with the slowest request. Now each aggregate is
// combined as a Grafana user would over time: a count or a sum of tumbling windows added up (the total
// of the range), a max by its largest window, a min by its smallest, an average by the plain mean of its
// windows, and a percentile, a distinct count or an overlapping window's count by its largest window
// (none of those add up). Pure (no DOM): test/unit/dashboard-totals.test.ts runs it under Node.

const ADDITIVE = new Set(['count', 'sum']);
const DISTINCT = new Set(['count_distinct', 'approx_distinct']);

/**
 * For a windowed pipeline (`window` and `aggregates` as /api/pipelines gives them) ranked by `aggregate`:
 * `rank`, the `rank` parameter of /top and /windows?top, and the total column's `header` and its longer
 * explanation (`title`, the header's tooltip).
 */
export function totalLabel(window, aggregates, aggregate) {
  const a = aggregates.find((x) => x.name === aggregate);
  const fn = a?.fn;
  const overlap = window.kind === 'hopping' && window.every_ms > 0 ? window.size_ms / window.every_ms : 1;
  const largest = (why) => ({ rank: 'max', header: `max of the windows' ${aggregate}`, title: `the largest ${aggregate} of the range's windows (as max_over_time): ${why}` });
  if (ADDITIVE.has(fn) && overlap === 1) {
    return { rank: 'sum', header: `${aggregate} over the range`, title: `the ${fn} of the range's windows added up: the ${fn} over the range` };
  }
  if (ADDITIVE.has(fn)) {
    return largest(`the windows overlap (${window.size} every ${window.every}), so each event counts in ${formatOverlap(overlap)} of them and their sum would count it as often`);
  }
  if (fn === 'max') return largest('the max over the range');
  if (fn === 'min') {
    return { rank: 'min', header: `min of the windows' ${aggregate}`, title: `the smallest ${aggregate} of the range's windows (as min_over_time): the min over the range; the keys whose min is highest first` };
  }
  if (fn === 'avg') {
    return { rank: 'mean', header: `mean of the windows' ${aggregate}`, title: `the mean of the range's windows' ${aggregate}, each window weighing the same (as avg_over_time): not the average of the range's events, whose counts the windows do not keep` };
  }
  if (fn === 'approx_percentile') return largest(`the worst window; a percentile over the range cannot be made from its windows' percentiles`);
  if (DISTINCT.has(fn)) return largest(`the busiest window; distinct counts do not add up (a ${a?.field ?? 'value'} seen in two windows is one)`);
  return { rank: 'sum', header: `sum of the windows' ${aggregate}`, title: `the range's windows' ${aggregate} added up: it ranks the keys` };
}

function formatOverlap(n) {
  return Number.isInteger(n) ? String(n) : `up to ${Math.ceil(n)}`;
}
