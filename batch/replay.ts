import { access } from 'node:fs/promises';
import { definitionVersion, type PipelineDefinition, type RulePipeline, type WindowedPipeline } from '../pipeline/definition.ts';
import { DefinitionError } from '../pipeline/errors.ts';
import { DEFAULT_HLL_PRECISION, estimateFromHistogram } from '../pipeline/hyperloglog.ts';
import { windowCellId, type KeyValues } from '../pipeline/keys.ts';
import { compareValues } from '../pipeline/ordering.ts';
import { presentValue, unitScale, type FieldDef, type FieldValue } from '../schemas/schema.ts';
import type { AlertResult, ResultRecord, WindowResult } from '../schemas/results.ts';
import { partitionGlob } from './archive-layout.ts';
import { listArchiveFiles } from './parquet-archive.ts';
import { quarantineCorruptFiles, type CorruptFile } from './archive-check.ts';
import { DuckDb, QueryError, quoteIdent, quoteString } from './duckdb.ts';
import { WS, aggregateSql, assignedSql, inTimeRanges, keyValueSql, ruleSql, timeExpr, windowedPlan, type WindowSkips } from './replay-sql.ts';
import { sketchHashSource } from './sketch-hashes.ts';

/**
 * Replay runtime: the same definition over complete data (no watermark) from the Parquet archive,
 * with the aggregation pushed into DuckDB SQL. HyperLogLog registers are built in SQL from the hash
 * stored at archive time; SQL returns each window's rank histogram and the estimate is computed by
 * the same function the stream runtime uses, so both numbers are bit-identical.
 */
export interface ReplayOptions {
  db?: DuckDb;
  /** A corrupt archive file was moved out of the reads (default: a process warning naming it). */
  onCorrupt?: (file: CorruptFile) => void;
  /**
   * Count each event id once (the first delivery in arrival order): a producer that re-sent an event
   * put it in the log twice, and the next-day numbers count it once. Off by default (the stream
   * counts what it was delivered; reconciliation turns it on and names such differences `duplicate`).
   */
  dedupe?: boolean;
  /**
   * Read only events with from <= ts < to for one of these ranges (a day, or the windows a backfill
   * recomputes). Callers pick ranges that hold whole windows (rules: plus the lookback span).
   */
  timeRanges?: readonly { from: number; to: number }[];
  /**
   * Leave out these deliveries (`source`, `offset`): what the stream computed without the events it
   * judged late. Reconcile uses it to check its attribution in SQL instead of re-running the stream.
   */
  exclude?: readonly { source: string; offset: number }[];
  /**
   * Leave these deliveries out of one window each (windowed pipelines): hopping windows that skipped an
   * event late for them alone, which the stream's other windows of that event counted.
   */
  excludeFromWindows?: readonly { source: string; offset: number; windowStart: number }[];
  /**
   * Next to each HLL estimate, the exact distinct count (`<output>_exact`), for checking the sketch's
   * error (default true; costs a full distinct aggregation, so benchmarks and reconcile turn it off).
   */
  exactDistinct?: boolean;
}

/** The archive as a SQL relation, filtered to `timeRanges` and deduplicated by id when asked. */
function sourceRelation(def: PipelineDefinition, archiveDir: string, options: ReplayOptions, files = archiveFiles(archiveDir, def)): string {
  const ranges = options.timeRanges;
  const excluded = options.exclude && options.exclude.length > 0 ? EXCLUDED : undefined;
  if (!options.dedupe && !ranges && !excluded) return files;
  const where = ranges ? `WHERE ${inTimeRanges(timeExpr(def), ranges)}` : '';
  const base = excluded ? `(SELECT * FROM ${files} ANTI JOIN ${excluded} USING (_source, _offset))` : files;
  const once = options.dedupe ? `QUALIFY row_number() OVER (PARTITION BY ${quoteIdent(def.schema.idField)} ORDER BY _ingest_ts, _source, _offset) = 1` : '';
  return `(SELECT * FROM ${base} ${where} ${once})`;
}

export { inTimeRanges };

/** Every archived event of the definition's schema. */
function archiveFiles(archiveDir: string, def: PipelineDefinition): string {
  return `read_parquet(${quoteString(partitionGlob(archiveDir, def.schema))}, hive_partitioning = false)`;
}

const warnCorrupt = (c: CorruptFile): void => {
  process.emitWarning(`archive file ${c.file} is not read: ${c.reason}; moved to ${c.movedTo}`, 'CorruptArchiveFile');
};

const EXCLUDED = 'replay_excluded';
const EXCLUDED_FROM_WINDOWS = 'replay_excluded_windows';

/** (delivery, window) pairs as the table `WindowSkips` reads. */
export async function loadWindowSkips(db: DuckDb, table: string, skips: readonly { source: string; offset: number; windowStart: number }[]): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table} (_source VARCHAR, _offset BIGINT, ${WS} BIGINT)`);
  const appender = await db.appender(table);
  for (const k of skips) {
    appender.appendVarchar(k.source);
    appender.appendBigInt(BigInt(k.offset));
    appender.appendBigInt(BigInt(k.windowStart));
    appender.endRow();
  }
  appender.closeSync();
}

async function loadExcluded(db: DuckDb, positions: readonly { source: string; offset: number }[]): Promise<void> {
  await db.run(`CREATE OR REPLACE TABLE ${EXCLUDED} (_source VARCHAR, _offset BIGINT)`);
  const appender = await db.appender(EXCLUDED);
  for (const p of positions) {
    appender.appendVarchar(p.source);
    appender.appendBigInt(BigInt(p.offset));
    appender.endRow();
  }
  appender.closeSync();
}

export async function replay(def: PipelineDefinition, archiveDir: string, options: ReplayOptions = {}): Promise<ResultRecord[]> {
  await access(archiveDir).catch((error) => {
    throw new DefinitionError(`archive directory ${archiveDir} does not exist; run \`concord archive\` first (${String(error)})`);
  });
  const report = (moved: readonly CorruptFile[]) => moved.forEach((c) => (options.onCorrupt ?? warnCorrupt)(c));
  report(await quarantineCorruptFiles(archiveDir, def.schema));
  if ((await listArchiveFiles(archiveDir, def.schema)).length === 0) return [];
  const db = options.db ?? (await DuckDb.open());
  try {
    if (options.exclude && options.exclude.length > 0) await loadExcluded(db, options.exclude);
    const windowSkips = options.excludeFromWindows && options.excludeFromWindows.length > 0 ? { table: EXCLUDED_FROM_WINDOWS } : undefined;
    if (windowSkips) await loadWindowSkips(db, windowSkips.table, options.excludeFromWindows!);
    const files = archiveFiles(archiveDir, def);
    const run = (from: string) => {
      const source = sourceRelation(def, archiveDir, options, from);
      return def.kind === 'windowed' ? replayWindowed(db, def, source, options.exactDistinct ?? true, windowSkips) : replayRule(db, def, source);
    };
    try {
      return await run(files);
    } catch (error) {
      // A field sketched after some files were archived has no stored hash there, and DuckDB refuses the
      // glob (schema mismatch / column not found): only then check every file and hash the field here.
      // (Checking first cost 30-90 ms on every replay; measured in docs/benchmarks.md.)
      if (error instanceof QueryError && /_h_.*_(hi|lo)/.test(error.message) && /schema mismatch|not found/i.test(error.message)) {
        return await run(await sketchHashSource(db, def, archiveDir, files));
      }
      // A footer that does not decode, or a file of another schema: moved out by name, then read again.
      const moved = await quarantineCorruptFiles(archiveDir, def.schema, { deep: true, db });
      if (moved.length === 0) throw error;
      report(moved);
      if ((await listArchiveFiles(archiveDir, def.schema)).length === 0) return [];
      return await run(files);
    }
  } finally {
    if (!options.db) db.close();
  }
}

/** Builds a definition's window results from the window start and `fields`: the keys, then the values. */
type WindowFactory = (start: number, fields: readonly (string | number | boolean | null)[]) => WindowResult;

/**
 * A constructor generated for the definition's key and output names, so every result has one literal
 * shape (measured, 4.2M results: 1.3 s with the fields assigned by name, 0.3-0.4 s so). Names are
 * embedded as JSON string literals.
 */
function windowFactory(def: WindowedPipeline): WindowFactory {
  const n = def.key.length;
  const key = def.key.map((k, i) => `${JSON.stringify(k)}: f[${i}]`).join(', ');
  const values = def.aggregates.map((a, i) => `${JSON.stringify(a.output)}: f[${n + i}]`).join(', ');
  const make = new Function('pipeline', 'size', 'version', `return function (start, f) {
    return { kind: 'window', pipeline, windowStart: start, windowEnd: start + size, key: { ${key} }, values: { ${values} }, revision: 0, watermark: null, definitionVersion: version };
  };`) as (pipeline: string, size: number, version: string) => WindowFactory;
  return make(def.name, def.window.size, definitionVersion(def));
}

/** A key value read back from SQL (already in output units), typed by its field: text, bool or a number. */
function keyFromSql(def: FieldDef | undefined, raw: unknown): string | number | boolean | null {
  if (raw === null || raw === undefined || (typeof raw === 'number' && Number.isNaN(raw))) return null;
  if (def?.kind === 'string') return String(raw);
  if (def?.kind === 'bool') return raw === true || raw === 1 || raw === 'true';
  return Number(raw);
}

/** A key field as SQL that reads as a number (booleans as 0/1; others as `keyValueSql`). */
function numericKeySql(def: WindowedPipeline, field: string, q: string): string {
  return def.schema.fields[field]?.kind === 'bool' ? `${q}::INTEGER::DOUBLE` : keyValueSql(def, field, q);
}

/**
 * Per key field of `table`: the SQL to read it as a number and to order by it. Text keys are replaced
 * by their rank among the distinct values (the order of the text itself), with the dictionary to map
 * them back; other keys are read as numbers.
 */
async function keyDictionaries(db: DuckDb, def: WindowedPipeline, table: string) {
  const out: { field: string; column: string; join: string; order: string; dictionary?: string[] }[] = [];
  for (const [i, k] of def.key.entries()) {
    const q = quoteIdent(k);
    const field = def.schema.fields[k];
    if (field?.kind !== 'string') {
      out.push({ field: k, column: `${numericKeySql(def, k, `${table}.${q}`)} AS __k${i}`, join: '', order: `${table}.${q}` });
      continue;
    }
    await db.run(`CREATE OR REPLACE TEMP TABLE replay_key${i} AS SELECT v, (row_number() OVER (ORDER BY v) - 1)::DOUBLE AS code FROM (SELECT DISTINCT ${q} AS v FROM ${table} WHERE ${q} IS NOT NULL)`);
    const dictionary = ((await db.columns(`SELECT v FROM replay_key${i} ORDER BY code`)).v ?? []).map(String);
    out.push({ field: k, column: `d${i}.code AS __k${i}`, join: `LEFT JOIN replay_key${i} d${i} ON ${table}.${q} = d${i}.v`, order: `d${i}.code`, dictionary });
  }
  return out;
}

async function replayWindowed(db: DuckDb, def: WindowedPipeline, source: string, exactDistinct: boolean, skips?: WindowSkips): Promise<WindowResult[]> {
  const version = definitionVersion(def);
  const plan = windowedPlan(def, source, exactDistinct, skips);
  const { groupCols, selects, assigned } = plan;
  if (plan.createAssigned) await db.run(plan.createAssigned);
  const size = def.window.size;
  const cellOf = (start: number, key: KeyValues): WindowResult => ({
    kind: 'window', pipeline: def.name, windowStart: start, windowEnd: start + size, key, values: {}, revision: 0, watermark: null, definitionVersion: version,
  });
  const out: WindowResult[] = [];
  if (plan.main) {
    await db.run(plan.main);
    // Text keys come back as codes into a dictionary (one string per distinct key, not per cell), every
    // column as DOUBLE read vector by vector (measured, 4.2M cells: 3.3 s to fetch as values, 0.6 s so).
    const keyed = await keyDictionaries(db, def, 'replay_main');
    const cols = await db.numbers(`SELECT ${WS}::DOUBLE AS ${WS}, ${[...keyed.map((k) => k.column), ...selects.map((x) => `${x.as}::DOUBLE AS ${x.as}`)].join(', ')}
      FROM replay_main ${keyed.map((k) => k.join).join(' ')} ORDER BY ${[WS, ...keyed.map((k) => k.order)].join(', ')}`);
    const starts = cols[WS]!;
    // Plain indexed loops: no destructuring or iterators per cell.
    const keyCols = keyed.map((_, i) => cols[`__k${i}`]!), dictionaries = keyed.map((k) => k.dictionary);
    const keyDefs = def.key.map((k) => def.schema.fields[k]);
    const aggCols = def.aggregates.map((_, i) => cols[`__a${i}`] ?? cols[`__e${i}`]), approx = def.aggregates.map((a) => a.aggregate.kind === 'approx_distinct');
    const exactNames = def.aggregates.map((a) => `${a.output}_exact`);
    const nk = keyCols.length, na = aggCols.length;
    const make = windowFactory(def);
    const fields: (string | number | boolean | null)[] = new Array(nk + na);
    for (let r = 0; r < starts.length; r++) {
      for (let k = 0; k < nk; k++) {
        const v = keyCols[k]![r]!, dictionary = dictionaries[k];
        fields[k] = Number.isNaN(v) ? null : dictionary ? dictionary[v]! : keyFromSql(keyDefs[k], v);
      }
      let extra: Record<string, number> | undefined;
      for (let a = 0; a < na; a++) {
        const col = aggCols[a];
        const v = col === undefined ? Number.NaN : col[r]!;
        if (!approx[a]) fields[nk + a] = Number.isNaN(v) ? null : v;
        else {
          fields[nk + a] = 0; // the estimate is filled in below
          if (col) (extra ??= {})[exactNames[a]!] = v;
        }
      }
      const cell = make(starts[r]!, fields);
      out.push(extra ? { ...cell, extra } : cell);
    }
  }
  if (plan.sketches.length === 0) return out;
  const cells = new Map<string, WindowResult>();
  for (const r of out) cells.set(windowCellId(r.windowStart, def.key, r.key), r);
  const keyOut = def.key.map((k, i) => `${keyValueSql(def, k)} AS __k${i}`);
  for (const sketch of plan.sketches) {
    const hist = await db.columns(`SELECT ${[WS, ...keyOut, '__r', '__c'].join(', ')} FROM (${sketch.sql})`);
    const histograms = new Map<string, { start: number; key: KeyValues; h: number[] }>();
    const hs = hist[WS] ?? [];
    for (let r = 0; r < hs.length; r++) {
      const key: KeyValues = {};
      def.key.forEach((k, i) => { key[k] = keyFromSql(def.schema.fields[k], hist[`__k${i}`]![r]); });
      const id = windowCellId(Number(hs[r]), def.key, key);
      let entry = histograms.get(id);
      if (!entry) histograms.set(id, (entry = { start: Number(hs[r]), key, h: [] }));
      // A group whose events all lack the field has no register (r is null) but is a cell, as in the stream.
      if (hist.__r![r] !== null) entry.h[Number(hist.__r![r])] = Number(hist.__c![r]);
    }
    for (const [id, entry] of histograms) if (!cells.has(id)) cells.set(id, cellOf(entry.start, entry.key));
    for (const [id, cell] of cells) (cell.values as Record<string, number | null>)[sketch.output] = estimateFromHistogram(histograms.get(id)?.h ?? [], sketch.precision);
  }
  return [...cells.values()].sort((x, y) => x.windowStart - y.windowStart);
}

async function replayRule(db: DuckDb, def: RulePipeline, source: string): Promise<AlertResult[]> {
  const version = definitionVersion(def);
  const field = def.rule.field === undefined ? undefined : def.schema.fields[def.rule.field];
  const keyDef = def.schema.fields[def.key];
  const cols = await db.columns(ruleSql(def, source));
  const out: AlertResult[] = [];
  const ks = cols.k ?? [];
  for (let r = 0; r < ks.length; r++) {
    const m = Number(cols.m![r]);
    const value = def.rule.measure === 'distinct'
      ? (cols.vals![r] as FieldValue[]).map((v) => (typeof v === 'bigint' ? Number(v) : v)).sort(compareValues).map((v) => presentValue(field, v))
      : m / unitScale(field);
    out.push({
      kind: 'alert', pipeline: def.name, key: { [def.key]: keyFromSql(keyDef, ks[r]) }, idField: def.schema.idField,
      id: String(cols.id![r]), ts: Number(cols.ts![r]), output: def.rule.output, value,
      late: false, watermark: null, definitionVersion: version,
    });
  }
  out.sort((a, b) => a.ts - b.ts || compareValues(a.id, b.id));
  return out;
}

/** Whether `replayCellTable` can replay the definition: windowed, every aggregate lowered to plain SQL. */
export function replaysAsTable(def: PipelineDefinition): boolean {
  return def.kind === 'windowed' && def.aggregates.every((a) => aggregateSql(a.aggregate, def) !== null);
}

export interface CellTableOptions {
  readonly timeRanges?: readonly { from: number; to: number }[];
  /**
   * One replay per entry, all from one scan of the archive: the name of a table `(_source, _offset)` of
   * deliveries that replay leaves out (e.g. repeated deliveries, or the events the stream judged late),
   * or undefined for every delivery.
   */
  readonly variants: readonly (string | undefined)[];
  /** A table of (delivery, window) pairs (`WindowSkips`) variant `variant` also leaves out, of those windows only. */
  readonly skippedWindows?: { readonly variant: number; readonly table: string };
}

/**
 * Replays a windowed definition into the DuckDB table `table` instead of JS records, for diffs that stay
 * in SQL (reconciling millions of cells). Columns: `ws` (window start, DOUBLE), the key fields as text
 * (what `cellKey` compares: `String(value)`), then per variant v `n<v>` (the deliveries it counted; 0:
 * the cell does not exist in that variant) and `v<v>_<i>` (aggregate i, DOUBLE).
 */
export async function replayCellTable(db: DuckDb, def: WindowedPipeline, archiveDir: string, table: string, options: CellTableOptions): Promise<void> {
  if (!replaysAsTable(def)) throw new DefinitionError(`${def.name}: sketches cannot be replayed into a cell table; use replay()`);
  const marked = options.variants.map((t, v) => [t, v] as const).filter(([t]) => t !== undefined) as [string, number][];
  let source = sourceRelation(def, archiveDir, options.timeRanges ? { timeRanges: options.timeRanges } : {});
  const flags: string[] = [];
  if (marked.length > 0) {
    // One left join against the (small) union of every variant's left-out deliveries.
    const union = marked.map(([t, v]) => `SELECT _source, _offset, ${v} AS v FROM ${t}`).join(' UNION ALL ');
    const marks = `(SELECT _source, _offset, ${marked.map(([, v]) => `bool_or(v = ${v}) AS __x${v}`).join(', ')} FROM (${union}) GROUP BY _source, _offset)`;
    source = `(SELECT e.*, ${marked.map(([, v]) => `coalesce(m.__x${v}, false) AS __x${v}`).join(', ')} FROM ${source} e LEFT JOIN ${marks} m USING (_source, _offset))`;
    flags.push(...marked.map(([, v]) => `__x${v}`));
  }
  const keys = def.key.map(quoteIdent);
  const keyText = def.key.map((k) => `${keyValueSql(def, k)} AS ${quoteIdent(k)}`);
  const skipped = options.skippedWindows;
  const selects = options.variants.flatMap((t, v) => {
    const left = [...(t === undefined ? [] : [`__x${v}`]), ...(skipped?.variant === v ? ['__skipped'] : [])];
    const filter = left.length === 0 ? '' : ` FILTER (WHERE NOT (${left.join(' OR ')}))`;
    return [`count(*)${filter} AS __n${v}`, ...def.aggregates.map((a, i) => `(${aggregateSql(a.aggregate, def, filter)!})::DOUBLE AS __v${v}_${i}`)];
  });
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table} AS
    SELECT ${WS}::DOUBLE AS __ws, ${[...keyText, ...selects].join(', ')}
    FROM (${assignedSql(def, source, flags, skipped ? { table: skipped.table, flag: '__skipped' } : undefined)}) GROUP BY ${[WS, ...keys].join(', ')}`);
}

/** The window results of variant `v` of a cell table, as `replay` returns them (keys typed by the schema). */
export async function cellTableResults(db: DuckDb, def: WindowedPipeline, table: string, v: number, range?: { from: number; to: number }): Promise<WindowResult[]> {
  const where = range ? `__ws >= ${range.from} AND __ws < ${range.to}` : 'true';
  const keys = def.key.map(quoteIdent);
  const cols = await db.columns(`SELECT __ws, ${[...keys, ...def.aggregates.map((_, i) => `__v${v}_${i}`)].join(', ')}
    FROM ${table} WHERE __n${v} > 0 AND ${where} ORDER BY ${['__ws', ...keys].join(', ')}`);
  const starts = cols.__ws ?? [];
  const fieldCols = [...def.key.map((k) => cols[k]!), ...def.aggregates.map((_, i) => cols[`__v${v}_${i}`]!)];
  const out: WindowResult[] = new Array(starts.length);
  for (let r = 0; r < starts.length; r++) out[r] = windowRecord(def, starts[r] as number, fieldCols.map((col) => col[r]));
  return out;
}

const factories = new WeakMap<WindowedPipeline, WindowFactory>();

/**
 * A replayed window result from a cell table's row: `fields` are the key values as text (typed back
 * by the schema), then the aggregates. Built by the definition's generated constructor.
 */
export function windowRecord(def: WindowedPipeline, start: number, fields: readonly unknown[]): WindowResult {
  let make = factories.get(def);
  if (!make) factories.set(def, (make = windowFactory(def)));
  const typed = fields.map((x, i) => {
    if (x === null || x === undefined) return null;
    if (i >= def.key.length) return Number(x);
    return keyFromSql(def.schema.fields[def.key[i]!], x);
  });
  return make(start, typed);
}

/**
 * The SQL `replay` runs for a definition over an archive, statement by statement (`concord explain`).
 * A field sketched after some files were archived adds a join with hashes computed at replay time.
 */
export function replayStatements(def: PipelineDefinition, archiveDir: string, options: ReplayOptions = {}): string[] {
  const source = sourceRelation(def, archiveDir, options);
  if (def.kind === 'rule') return [ruleSql(def, source).trim()];
  const plan = windowedPlan(def, source, options.exactDistinct ?? true);
  return [plan.createAssigned, plan.main, ...plan.sketches.map((s) => s.sql.trim())].filter((x): x is string => x !== undefined);
}
