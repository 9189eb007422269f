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
