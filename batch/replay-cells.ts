import type { WindowedPipeline } from '../pipeline/definition.ts';
import type { KeyValues } from '../pipeline/keys.ts';
import { quoteIdent, type ColumnType, type DuckDb } from './duckdb.ts';
import { WS, keyValueSql, type PairFilter } from './replay-sql.ts';

/**
 * A windowed replay restricted to some (window, key) cells (a backfill's dirty cells): their events and
 * nothing else are aggregated, so a day with a few dirty cells in every window replays those cells, not
 * every cell of its windows. The cells are a temp table; the replay keeps the (event, window) pairs of
 * its cells with a semi-join after window assignment (a hopping event counts in the cells of each of its
 * windows that is one). Each cell's events are exactly those of the unrestricted replay, so every
 * aggregate, HyperLogLog histograms and distinct counts included, is that replay's value for the cell.
 *
 * Keys match as cell identity does (pipeline/keys.ts): per key field, the value results carry, and a
 * null key only a null key (`IS NOT DISTINCT FROM`: SQL NULL is never the text 'null').
 */
export interface WindowCell {
  readonly windowStart: number;
  readonly key: KeyValues;
}

// Not `replay_cells`: reconcile's cell table (reconcile-windowed.ts), which a replay of some cells within
// the same reconcile (mis-keyed.ts) replaced.
export const CELLS = 'replay_asked_cells';

/** Per key field: the table column type and how a cell's key value is written into it. */
function keyColumn(def: WindowedPipeline, field: string): { type: ColumnType; value: (v: unknown) => unknown } {
  switch (def.schema.fields[field]?.kind) {
    case 'string':
      return { type: 'VARCHAR', value: (v) => String(v) };
    case 'bool':
      return { type: 'INTEGER', value: (v) => (v === true || v === 'true' ? 1 : 0) };
    default:
      return { type: 'DOUBLE', value: (v) => Number(v) };
  }
}

/** A key field of an event as the cells table holds it (booleans 0/1; otherwise the value results carry). */
function eventKeySql(def: WindowedPipeline, field: string, col: string): string {
  return def.schema.fields[field]?.kind === 'bool' ? `${col}::INTEGER` : keyValueSql(def, field, col);
}

/** Writes `cells` into the temp table `CELLS` (`__ws` BIGINT, `__c<i>` per key field; each cell once). */
export async function loadReplayCells(db: DuckDb, def: WindowedPipeline, cells: readonly WindowCell[]): Promise<void> {
  const raw = `${CELLS}_raw`;
  await db.createTableFromColumns(raw, [
    { name: WS, type: 'DOUBLE', values: cells.map((c) => c.windowStart) },
    ...def.key.map((k, i) => {
      const col = keyColumn(def, k);
      return { name: `__c${i}`, type: col.type, values: cells.map((c) => (c.key[k] === null || c.key[k] === undefined ? null : col.value(c.key[k]))) };
    }),
  ]);
  const keys = def.key.map((_, i) => `__c${i}`);
  await db.run(`CREATE OR REPLACE TEMP TABLE ${CELLS} AS SELECT DISTINCT ${[`${WS}::BIGINT AS ${WS}`, ...keys].join(', ')} FROM ${raw}`);
  await db.run(`DROP TABLE ${raw}`);
}

/** The filter `assignedSql` applies for a replay of the cells in `table` (`loadReplayCells`). */
export function cellsFilter(def: WindowedPipeline, table = CELLS): PairFilter {
  return {
    events: (events) => (def.window.kind === 'hopping' ? ofCellKeysSql(def, events, table) : events),
    pairs: (pairs) => onlyCellsSql(def, pairs, table),
  };
}

/** The (event, window) pairs `pairs` (columns `__ws` and the key fields as stored) of the cells in `table` only. */
function onlyCellsSql(def: WindowedPipeline, pairs: string, table: string): string {
  const on = [`p.${WS} = c.${WS}`, ...def.key.map((k, i) => `${eventKeySql(def, k, `p.${quoteIdent(k)}`)} IS NOT DISTINCT FROM c.__c${i}`)];
  return `SELECT p.* FROM (${pairs}) p SEMI JOIN ${table} c ON ${on.join(' AND ')}`;
}

/**
 * Events (`events`: a relation with the key fields as stored) whose key is one of the cells' in `table`.
 * Hopping windows: applied before the pairs are made, so the events of other keys are not multiplied
 * by their windows first.
 */
function ofCellKeysSql(def: WindowedPipeline, events: string, table: string): string {
  if (def.key.length === 0) return events;
  const keys = def.key.map((_, i) => `__c${i}`);
  const on = def.key.map((k, i) => `${eventKeySql(def, k, `e.${quoteIdent(k)}`)} IS NOT DISTINCT FROM k.__c${i}`);
  return `SELECT e.* FROM (${events}) e SEMI JOIN (SELECT DISTINCT ${keys.join(', ')} FROM ${table}) k ON ${on.join(' AND ')}`;
}

