import { isFloatingAggregate, isFloatingRuleSum, type AggregateSpec } from '../pipeline/aggregates.ts';
import type { NamedAggregate, PipelineDefinition, RulePipeline, WindowedPipeline } from '../pipeline/definition.ts';
import { filterSql } from '../pipeline/filter.ts';
import { windowStartAtOrBeforeSql } from '../pipeline/windows.ts';
import { DEFAULT_HLL_PRECISION } from '../pipeline/hyperloglog.ts';
import { unitScale, type FieldValue } from '../schemas/schema.ts';
import { hashColumns } from './archive-layout.ts';
import { exactPercentileSql, percentileHistogramSql } from './percentile-sql.ts';
import { quoteIdent, quoteString } from './duckdb.ts';

export { inTimeRanges } from './time-ranges-sql.ts';

/**
 * A definition lowered to DuckDB SQL over the archive: the replay runs these statements and `concord
 * explain` prints them. Names from definitions reach SQL only through `quoteIdent`, constants only
 * through `sqlLiteral` (quoted strings, finite numbers, TRUE/FALSE).
 */
export const TS = '__ts';
export const WS = '__ws';

/** Event time as epoch ms. */
export function timeExpr(def: PipelineDefinition): string {
  return `epoch_ms(${quoteIdent(def.schema.timeField)})`;
}

/** A field as the stream sees it: timestamps as epoch ms, everything else as stored. */
export function fieldExpr(def: PipelineDefinition, field: string): string {
  return def.schema.fields[field]?.kind === 'timestamp' ? `epoch_ms(${quoteIdent(field)})` : quoteIdent(field);
}

/** A normalised constant as SQL (decimals are compared as the stored minor units). */
export function sqlLiteral(value: FieldValue): string {
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return Number.isInteger(value) ? String(value) : `${value}::DOUBLE`;
}

/** The pipeline's `where` as a SQL condition (`true` without one). */
export function whereSql(def: PipelineDefinition): string {
  return filterSql(def.where, (f) => fieldExpr(def, f), sqlLiteral);
}

/** The order the stream takes a source's events in: its deliveries' (a file's lines, a partition's offsets). */
const DELIVERY_ORDER = ['_source', '_offset'] as const;

/** The archive columns a windowed definition reads: keys, aggregated fields, aggregates' filter fields and stored hashes. */
function columnsRead(def: WindowedPipeline): string[] {
  const cols = new Set<string>(def.key.map(quoteIdent));
  for (const a of def.aggregates) {
    for (const c of a.where ?? []) if (c.field !== def.schema.timeField) cols.add(quoteIdent(c.field));
    const spec = a.aggregate;
    if (spec.kind === 'count') continue;
    if (spec.field !== def.schema.timeField) cols.add(quoteIdent(spec.field));
    // A double sum adds in the stream's order, the deliveries' (aggregateSql).
    if (isFloatingAggregate(spec, def.schema)) for (const c of DELIVERY_ORDER) cols.add(c);
    if (spec.kind === 'approx_distinct') {
      const { hi, lo } = hashColumns(spec.field);
      cols.add(hi);
      cols.add(lo);
    }
  }
  return [...cols];
}

/**
 * (delivery, window) pairs to leave out of those windows only: a table `(_source, _offset, __ws)`. A
 * hopping event late for some of its windows was skipped by those and counted by the others.
 * `flag`: mark the pairs with this boolean column instead of leaving them out (one variant of several).
 */
export interface WindowSkips {
  readonly table: string;
  readonly flag?: string;
}

/** Keeps some events (key fields as stored) and some of their (event, window) pairs: a replay of some cells (batch/replay-cells.ts). */
export interface PairFilter {
  events(sql: string): string;
  pairs(sql: string): string;
}

/**
 * Every (event, window) pair of the events the `where` keeps, as SQL: window starts aligned (epoch plus the
 * window's offset) like `assignWindows`. Only the columns the definition reads are carried (measured: SELECT * made the
 * 1M-event replay ~2x slower), plus `extra` (e.g. per-delivery flags). `only`: those `PairFilter` keeps.
 */
export function assignedSql(def: WindowedPipeline, source: string, extra: readonly string[] = [], skips?: WindowSkips, only?: PairFilter): string {
  const w = def.window;
  const filter = def.where.length > 0 ? ` WHERE ${whereSql(def)}` : '';
  const carried = skips ? [...extra, ...DELIVERY_ORDER] : extra;
  const read = `SELECT ${[...new Set([...columnsRead(def), `${timeExpr(def)} AS ${TS}`, ...carried])].join(', ')} FROM ${source}${filter}`;
  const events = only ? only.events(read) : read;
  let pairs: string;
  const latest = windowStartAtOrBeforeSql(w, TS);
  if (w.kind === 'tumbling') pairs = `SELECT *, ${latest} AS ${WS} FROM (${events})`;
  else {
    const back = Math.ceil(w.size / w.slide) - 1;
    pairs = `SELECT * FROM (
      SELECT *, unnest(range(${latest} - ${back * w.slide}, ${latest} + 1, ${w.slide})) AS ${WS}
      FROM (${events})
    ) WHERE ${WS} > ${TS} - ${w.size}`;
  }
  if (only) pairs = only.pairs(pairs);
  if (!skips) return pairs;
  const skipped = `(SELECT DISTINCT _source AS __ks, _offset AS __ko, ${WS} AS __kw FROM ${skips.table})`;
  const on = `p._source = k.__ks AND p._offset = k.__ko AND p.${WS} = k.__kw`;
  return skips.flag
    ? `SELECT p.*, k.__kw IS NOT NULL AS ${skips.flag} FROM (${pairs}) p LEFT JOIN ${skipped} k ON ${on}`
    : `SELECT p.* FROM (${pairs}) p ANTI JOIN ${skipped} k ON ${on}`;
}

/** A field inside the (event, window) pairs: the time as `__ts`, other timestamps as epoch ms. */
function fieldColumn(def: PipelineDefinition, field: string): string {
  if (field === def.schema.timeField) return TS;
  return def.schema.fields[field]?.kind === 'timestamp' ? `epoch_ms(${quoteIdent(field)})` : quoteIdent(field);
}

/** An aggregate's own `where` as SQL over the (event, window) pairs; undefined without one. */
export function aggregateWhereSql(def: WindowedPipeline, a: NamedAggregate): string | undefined {
  return a.where && a.where.length > 0 ? filterSql(a.where, (f) => fieldColumn(def, f), sqlLiteral) : undefined;
}

/** A FILTER clause (` FILTER (WHERE ...)`) of the conditions given, all of them; '' when none is. */
export function filterClause(...conditions: (string | undefined)[]): string {
  const all = conditions.filter((c): c is string => c !== undefined);
  return all.length === 0 ? '' : ` FILTER (WHERE ${all.length === 1 ? all[0] : all.map((c) => `(${c})`).join(' AND ')})`;
}

/**
 * An exact integer (a HUGEINT sum of an int or decimal column) as the double nearest it, like the
 * stream's `Number(total)` (ties to even). DuckDB's own HUGEINT -> DOUBLE cast is not correctly rounded
 * (measured, DuckDB 1.5: negative totals past 2^53 come out toward zero, even one a double holds, e.g.
 * -18014398509481982 as -18014398509481980; totals past 2^64 are off either way); BIGINT -> DOUBLE and
 * VARCHAR -> DOUBLE are, so a total within BIGINT goes through BIGINT and a larger one through its
 * decimal text. Per group, not per row.
 */
export function exactDoubleSql(sql: string): string {
  return `(CASE WHEN (${sql}) BETWEEN -9223372036854775807 AND 9223372036854775807 THEN (${sql})::BIGINT::DOUBLE ELSE (${sql})::VARCHAR::DOUBLE END)`;
}

/**
 * One aggregate as SQL, in output units like `aggregateFunction`: sums of int and decimal fields exact
 * (HUGEINT), then the double nearest the exact total (`exactDoubleSql`), decimals divided by 10^N once,
 * at the end, by the same double operations (sum / scale, sum / (count * scale)), so both runtimes agree
 * bit for bit; null over no non-null value. `filter`: a FILTER clause (` FILTER (WHERE ...)`) or ''. Null
 * for approx_distinct (its registers are built by `sketchHistogramSql`) and approx_percentile (its buckets by
 * `percentileHistogramSql`).
 */
export function aggregateSql(spec: AggregateSpec, def: PipelineDefinition, filter = ''): string | null {
  if (spec.kind === 'count') return `count(*)${filter}`;
  if (spec.kind === 'approx_distinct' || spec.kind === 'approx_percentile') return null;
  const col = fieldColumn(def, spec.field);
  const scale = unitScale(def.schema.fields[spec.field]);
  const scaled = (sql: string) => (scale === 1 ? sql : `(${sql})::DOUBLE / ${scale}`);
  const double = def.schema.fields[spec.field]?.kind === 'double';
  // A double sum's last bits depend on the order of its additions (1e16 + 1 - 1e16 is 0, 1 + (1e16 - 1e16)
  // is 1: no relative tolerance covers that), so it adds in the order the stream does, the deliveries'
  // (a source's offsets: a file's lines, a partition's records), not DuckDB's order of files and threads.
  const summed = double ? `sum(${col} ORDER BY ${DELIVERY_ORDER.join(', ')})${filter}` : exactDoubleSql(`sum(${col})${filter}`);
  switch (spec.kind) {
    case 'sum':
      return scale === 1 ? summed : `${summed} / ${scale}`;
    case 'avg':
      return `(${summed})::DOUBLE / ((count(${col})${filter}) * ${scale})`;
    case 'min':
      return scaled(`min(${col})${filter}`);
    case 'max':
      return scaled(`max(${col})${filter}`);
    case 'count_distinct':
      return `count(DISTINCT ${col})${filter}`;
  }
}

/**
 * The HyperLogLog register histogram of one sketched field per (window, key) group: register index =
 * top p bits of the pinned hash; rank = leading zeros of the other 64 - p bits + 1 (log2 is exact below 2^32).
 */
export function sketchHistogramSql(field: string, precision: number, groupCols: readonly string[], assigned: string, nullable: boolean, filter?: string): string {
  const { hi, lo } = hashColumns(field);
  const q = 32 - precision;
  // An optional field: a group whose events all lack it still is a cell (with no register, as in the
  // stream), so its rows stay, ranked NULL. A required field has no such rows: filtered, cheaper. The
  // aggregate's own filter likewise: the events it leaves out stay, with no register (index and rank
  // NULL), so a group none of whose events passes it still is a cell, its estimate 0 as the stream's.
  const kept = filter === undefined ? undefined : `coalesce(${filter}, false)`;
  const keepRows = nullable || kept !== undefined;
  const rank = `CASE WHEN ${keepRows ? `${hi} IS NULL THEN NULL WHEN ` : ''}${kept ? `NOT ${kept} THEN NULL WHEN ` : ''}(${hi} & ${2 ** q - 1}) <> 0 THEN ${q} - floor(log2(${hi} & ${2 ** q - 1}))::INTEGER
                       WHEN ${lo} <> 0 THEN ${q + 32} - floor(log2(${lo}))::INTEGER
                       ELSE ${q + 33} END`;
  const index = kept ? `CASE WHEN ${kept} THEN ${hi} >> ${q} END` : `${hi} >> ${q}`;
  return `
      WITH regs AS (
        SELECT ${groupCols.join(', ')}, ${index} AS __idx, max(${rank}) AS __r
        FROM ${assigned}${keepRows ? '' : ` WHERE ${hi} IS NOT NULL`} GROUP BY ALL)
      SELECT ${groupCols.join(', ')}, __r, count(*) AS __c FROM regs GROUP BY ALL`;
}

/**
 * A rule over complete data: per key, ordered by (ts, id), the measure over (ts - span, ts] with rows of
 * the same ts added in id order (exact duplicates included), flagged where it first exceeds the
 * threshold after not exceeding it at the key's previous event. Returns k, id, ts, m (the measure) and
 * for `distinct` vals (the distinct values).
 */
export function ruleSql(def: RulePipeline, source: string): string {
  const { span, threshold, measure, field } = def.rule;
  const k = keyValueSql(def, def.key), id = quoteIdent(def.schema.idField);
  const v = field === undefined ? 'NULL' : fieldExpr(def, field);
  const filter = def.where.length > 0 ? ` WHERE ${whereSql(def)}` : '';
  // Strictly earlier timestamps within the span, then the rows of the same ts up to this id (peers included).
  const earlier = `OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN ${span - 1} PRECEDING AND 1 PRECEDING)`;
  const sameTs = `OVER (PARTITION BY k, ts ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;
  // An exact (HUGEINT) sum meets an integer threshold as an integer literal: exact, as the stream's bigint
  // comparison (`String` would write 1e21 and beyond as a DOUBLE, and the sum would be rounded to meet it).
  const exact = measure === 'sum' && !isFloatingRuleSum(def.rule, def.schema);
  const m = measure === 'distinct'
    ? { cols: `list(v) ${earlier} AS e, list(v) ${sameTs} AS s`, value: 'list_distinct(list_concat(coalesce(e, []), s)) AS vals', m: 'len(vals)' }
    : measure === 'count'
      ? { cols: `count(*) ${earlier} AS e, count(*) ${sameTs} AS s`, value: 'coalesce(e, 0) + s AS m0', m: 'm0' }
      : exact
        ? { cols: `sum(v) ${earlier} AS e, sum(v) ${sameTs} AS s`, value: 'coalesce(e, 0) + coalesce(s, 0) AS m0', m: 'm0' }
        : orderedDoubleSum(earlier, sameTs);
  const limit = exact && Number.isInteger(threshold) && Math.abs(threshold) < 2 ** 126 ? BigInt(threshold).toString() : sqlLiteral(threshold);
  return `
    WITH t AS (SELECT ${k} AS k, ${id} AS id, ${timeExpr(def)} AS ts, ${v} AS v FROM ${source}${filter}),
    c AS (SELECT k, id, ts, ${m.cols} FROM t),
    s AS (SELECT k, id, ts, ${m.value} FROM c),
    flagged AS (SELECT *, ${m.m} AS m, ${m.m} > ${limit} AS sat FROM s),
    crossed AS (SELECT *, lag(sat) OVER (PARTITION BY k ORDER BY ts, id) AS prev_sat FROM flagged)
    SELECT k, id, ts, m${measure === 'distinct' ? ', vals' : ''} FROM crossed WHERE sat AND NOT coalesce(prev_sat, false)`;
}

/**
 * A rule's sum of a `double` field as the stream adds it: left to right in (ts, id) order. DuckDB's window
 * sum adds in an order of its own, and a frame summing to 0.6000000000000001 one way and 0.6 the other
 * decides an alert at "more than 0.6" differently (the stream alerted, the replay did not, with no late
 * data: unexplained). Frames are a key's events within one span: lists are cheap.
 */
function orderedDoubleSum(earlier: string, sameTs: string): { cols: string; value: string; m: string } {
  const row = `{'ts': ts, 'id': id, 'v': v}`;
  const ordered = 'CASE WHEN e IS NULL THEN list_sort(s) ELSE list_concat(list_sort(e), list_sort(s)) END';
  return {
    cols: `list(${row}) ${earlier} AS e, list(${row}) ${sameTs} AS s`,
    value: `list_filter(list_transform(${ordered}, lambda x: x.v), lambda x: x IS NOT NULL) AS vs`,
    m: 'CASE WHEN len(vs) = 0 THEN 0::DOUBLE ELSE list_reduce(vs, lambda a, b: a + b) END',
  };
}

/** The statements a windowed replay runs over `source`, built once for the replay and for `concord explain`. */
export interface WindowedPlan {
  readonly groupCols: readonly string[];
  /** Plain aggregates `a<i>` (and exact distinct counts `x<i>` next to sketches). */
  readonly selects: readonly { sql: string; as: string }[];
  /** With more than one pass, the (event, window) pairs are written once to the temp table `assigned`. */
  readonly createAssigned?: string;
  readonly assigned: string;
  /** The plain aggregation into the temp table `replay_main`, when there are plain aggregates. */
  readonly main?: string;
  /** One register-histogram query per sketch (the aggregate's own filter applied). */
  readonly sketches: readonly { output: string; field: string; precision: number; sql: string }[];
  /** One bucket-histogram query per approx_percentile (the aggregate's own filter applied); `scale`: its field's 10^N. */
  readonly percentiles: readonly { output: string; quantile: number; scale: number; sql: string }[];
}

export function windowedPlan(def: WindowedPipeline, source: string, exactDistinct: boolean, skips?: WindowSkips, only?: PairFilter): WindowedPlan {
  const groupCols = [WS, ...def.key.map(quoteIdent)];
  const selects: { sql: string; as: string }[] = [];
  def.aggregates.forEach((a, i) => {
    const filter = filterClause(aggregateWhereSql(def, a));
    const sql = aggregateSql(a.aggregate, def, filter);
    if (sql !== null) selects.push({ sql, as: `__a${i}` });
    else if (exactDistinct && a.aggregate.kind === 'approx_distinct') selects.push({ sql: `count(DISTINCT ${fieldColumn(def, a.aggregate.field)})${filter}`, as: `__e${i}` });
    else if (exactDistinct && a.aggregate.kind === 'approx_percentile') {
      const { field, quantile } = a.aggregate;
      selects.push({ sql: exactPercentileSql(fieldColumn(def, field), quantile, unitScale(def.schema.fields[field]), filter), as: `__e${i}` });
    }
  });
  const sketched = def.aggregates.flatMap((a) => (a.aggregate.kind === 'approx_distinct'
    ? [{ output: a.output, field: a.aggregate.field, precision: a.aggregate.precision ?? DEFAULT_HLL_PRECISION, filter: aggregateWhereSql(def, a) }] : []));
  const percentiles = def.aggregates.flatMap((a) => (a.aggregate.kind === 'approx_percentile'
    ? [{ output: a.output, field: a.aggregate.field, quantile: a.aggregate.quantile, filter: aggregateWhereSql(def, a) }] : []));
  // One pass for plain aggregates (and exact distinct counts), one per sketch (register histograms) and
  // per percentile (bucket histograms). Several passes read the (event, window) pairs from a temp table
  // written once; a single pass reads the files directly (measured: the temp table cost more than it
  // saved for one pass).
  const passes = (selects.length > 0 ? 1 : 0) + sketched.length + percentiles.length;
  const createAssigned = passes > 1 ? `CREATE OR REPLACE TEMP TABLE assigned AS ${assignedSql(def, source, [], skips, only)}` : undefined;
  const assigned = createAssigned ? 'assigned' : `(${assignedSql(def, source, [], skips, only)})`;
  const main = selects.length > 0
    ? `CREATE OR REPLACE TEMP TABLE replay_main AS SELECT ${[...groupCols, ...selects.map((x) => `${x.sql} AS ${x.as}`)].join(', ')} FROM ${assigned} GROUP BY ALL`
    : undefined;
  return {
    groupCols, selects, assigned, ...(createAssigned ? { createAssigned } : {}), ...(main ? { main } : {}),
    sketches: sketched.map(({ filter, ...s }) => ({ ...s, sql: sketchHistogramSql(s.field, s.precision, groupCols, assigned, !(def.schema.fields[s.field]?.required ?? false), filter) })),
    percentiles: percentiles.map(({ output, field, quantile, filter }) => ({
      output, quantile, scale: unitScale(def.schema.fields[field]), sql: percentileHistogramSql(fieldColumn(def, field), groupCols, assigned, filter),
    })),
  };
}

/** How a key field is compared in SQL next to results: text for strings and booleans, else a number. */
export function keyColumnType(def: PipelineDefinition, field: string): 'VARCHAR' | 'DOUBLE' {
  const kind = def.schema.fields[field]?.kind;
  return kind === 'string' || kind === 'bool' ? 'VARCHAR' : 'DOUBLE';
}

/**
 * A key field's value as results carry it (`keyColumnType`): text as is, booleans as 'true'/'false'
 * (like `String(value)`), timestamps as epoch ms, decimals in major units (the same division as the
 * stream's), other numbers as DOUBLE. `col`: the column expression (default the quoted field).
 */
export function keyValueSql(def: PipelineDefinition, field: string, col = quoteIdent(field)): string {
  const f = def.schema.fields[field];
  switch (f?.kind) {
    case 'string':
      return col;
    case 'bool':
      return `CAST(${col} AS VARCHAR)`;
    case 'timestamp':
      return `epoch_ms(${col})::DOUBLE`;
    case 'decimal':
      return `(${col}::DOUBLE / ${unitScale(f)})`;
    default:
      return `${col}::DOUBLE`;
  }
}
