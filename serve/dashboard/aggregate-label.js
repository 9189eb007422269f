// How the live view's aggregate picker names an aggregate. It showed "name (fn field)", so p50 and p99 of
// one field read alike ("approx_percentile latency_ms" twice) and a filtered aggregate looked unfiltered.
// Pure (no DOM): test/unit/dashboard-aggregate-label.test.ts runs it under Node.

/** `p99_ms (approx_percentile latency_ms 0.99, where status >= 500)` from an aggregate of /api/pipelines. */
export function aggregateLabel(a) {
  const args = [a.fn, a.field, a.quantile].filter((x) => x !== undefined).join(' ');
  const where = a.where?.length ? `, where ${a.where.map(conditionText).join(' and ')}` : '';
  return `${a.name} (${args}${where})`;
}

/** A condition as /api/pipelines presents it, `{ field, op, value }` (no value for `is null`). */
function conditionText(c) {
  return [c.field, c.op, ...('value' in c ? [JSON.stringify(c.value)] : [])].join(' ');
}

// A chart's values said nothing of what they were: a count, a sum of a decimal field and a percentile in
// ms drew the same bare numbers. The axis says what the aggregate is and, where the definition gives
// one, the unit (a decimal's major units, a timestamp's epoch ms); otherwise the aggregate and its field.

const WHAT = {
  count: () => 'count of events',
  sum: (a) => `sum of ${a.field}`,
  avg: (a) => `mean of ${a.field}`,
  min: (a) => `min of ${a.field}`,
  max: (a) => `max of ${a.field}`,
  count_distinct: (a) => `distinct ${a.field}`,
  approx_distinct: (a) => `distinct ${a.field} (approx.)`,
  approx_percentile: (a) => `p${Number((a.quantile * 100).toPrecision(12))} of ${a.field} (approx.)`,
};

/** The unit of a field's values by its type (`field_types` of /api/pipelines); null: the type gives none. */
export function unitOfType(type) {
  const t = (type ?? '').replace(/\?$/, '');
  const decimal = /^decimal\((\d+)\)$/.exec(t);
  if (decimal) return `decimal, ${decimal[1]} places`;
  if (t === 'timestamp') return 'epoch ms';
  return null;
}

/**
 * `p99 of latency_ms (approx.)`, `sum of price (decimal, 2 places)`: what a chart of the aggregate `a` of
 * /api/pipelines draws (its name is in the picker beside it; the vertical axis has room for ~30 characters).
 * Counts are of events (or of distinct values): no field unit.
 */
export function valueLabel(a, fieldTypes = {}) {
  const what = (WHAT[a.fn] ?? ((x) => `${x.fn}${x.field ? ` of ${x.field}` : ''}`))(a);
  const counted = a.fn === 'count' || a.fn === 'count_distinct' || a.fn === 'approx_distinct';
  const unit = !counted && a.field ? unitOfType(fieldTypes[a.field]) : null;
  return `${what}${unit ? ` (${unit})` : ''}`;
}
