// What the live view's top table's total is, said as it is. The total is /top's: each key's windows'
// values added up over the range. That is the aggregate over the range only for a count or a sum over
// windows that do not overlap; the page called every total "<aggregate> over the range", so an average
// fare of 25 read as 668 (26 windows' averages added), and a hopping window's count was each ride 3 times.
// Pure (no DOM): test/unit/dashboard-totals.test.ts runs it under Node.

const ADDITIVE = new Set(['count', 'sum']);

/**
 * The total column's header and its longer explanation (the header's title) for a windowed pipeline
 * (`window` and `aggregates` as /api/pipelines gives them) ranked by `aggregate`.
 */
export function totalLabel(window, aggregates, aggregate) {
  const fn = aggregates.find((a) => a.name === aggregate)?.fn;
  const overlap = window.kind === 'hopping' && window.every_ms > 0 ? window.size_ms / window.every_ms : 1;
  if (ADDITIVE.has(fn) && overlap === 1) {
    return { header: `${aggregate} over the range`, title: `the ${fn} of the range's windows added up: the ${fn} over the range` };
  }
  const what = ADDITIVE.has(fn)
    ? `the windows overlap (${window.size} every ${window.every}): each event counts in ${formatOverlap(overlap)} of them`
    : `a${/^[aeiou]/.test(fn ?? '') ? 'n' : ''} ${fn ?? 'aggregate'} added up is no ${fn ?? 'aggregate'} over the range: it ranks the keys`;
  return { header: `sum of the windows' ${aggregate}`, title: `the range's windows' ${aggregate} added up; ${what}` };
}

function formatOverlap(n) {
  return Number.isInteger(n) ? String(n) : `up to ${Math.ceil(n)}`;
}
