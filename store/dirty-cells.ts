import type { DirtyCell } from '../reconcile/reconcile-day.ts';
import type { LoggedLate } from '../reconcile/reconcile.ts';
import type { KeyValues } from '../schemas/results.ts';
import { dayOf, type StoredLate } from './rows.ts';
import type { SqlDriver, StageColumn } from './sql-driver.ts';

/**
 * Dirty-cell bookkeeping, set-based: a batch marks or consumes its cells with one statement over a
 * staging table (never one statement per cell), on both backends.
 */

export type HoldReason = 'sealed_day' | 'late_after_reconcile';

/**
 * Marks dirty the cells of the staged rows (bulk-write.ts) that carry news; one row per cell (alerts of
 * one key and day share a cell), so PostgreSQL's ON CONFLICT never touches a row twice. The reason is
 * the rows' hold, or `other_run` for rows another run contradicts (`markConflicting`).
 */
export async function markDirtyFromStage(tx: SqlDriver, schema: string, stage: string, at: number, reason?: 'other_run'): Promise<void> {
  await tx.query(
    `INSERT INTO ${schema}.dirty_cells (pipeline, day, window_start, cell, key_json, reason, recorded_at, consumed_by)
     SELECT pipeline, min(day), dirty_ws, dirty_cell, min(key_json), ${reason === undefined ? 'min(hold)' : `'${reason}'`}, $1::BIGINT, NULL FROM ${stage}
     WHERE news = 1 GROUP BY pipeline, dirty_ws, dirty_cell
     ON CONFLICT (pipeline, window_start, cell) DO UPDATE SET consumed_by = NULL, reason = excluded.reason, recorded_at = excluded.recorded_at`, [at]);
}

/**
 * Remembers the cells of the staged rows marked `news` as contradicted by another run (`contradicted_cells`):
 * their dirty mark goes when a backfill or reconcile reads it, the fact that the stream's row misses the
 * other run's input does not (reconcile names such differences `other_run`).
 */
export async function recordContradicted(tx: SqlDriver, schema: string, stage: string, at: number): Promise<void> {
  await tx.query(
    `INSERT INTO ${schema}.contradicted_cells (pipeline, day, window_start, cell, key_json, recorded_at)
     SELECT pipeline, min(day), dirty_ws, dirty_cell, min(key_json), $1::BIGINT FROM ${stage}
     WHERE news = 1 GROUP BY pipeline, dirty_ws, dirty_cell
     ON CONFLICT (pipeline, window_start, cell) DO NOTHING`, [at]);
}

const LATE_COLUMNS: StageColumn[] = [
  { name: 'pipeline', type: 'TEXT' }, { name: 'day', type: 'TEXT' }, { name: 'source', type: 'TEXT' }, { name: 'off', type: 'BIGINT' },
  { name: 'record_json', type: 'TEXT' }, { name: 'dirty_ws', type: 'BIGINT' }, { name: 'dirty_cell', type: 'TEXT' }, { name: 'key_json', type: 'TEXT' },
  { name: 'hold', type: 'TEXT' }, { name: 'news', type: 'INTEGER' }];

const WOKE_COLUMNS: StageColumn[] = [{ name: 'pipeline', type: 'TEXT' }, { name: 'source', type: 'TEXT' }, { name: 'off', type: 'BIGINT' }, { name: 'record_json', type: 'TEXT' }];

/** A late event as `late_events.record_json` holds it (store-reads.ts `lateEvents` reads it back). */
function storedLateJson(l: LoggedLate): string {
  return JSON.stringify({ evaluated_on_arrival: l.evaluatedOnArrival, record: l.record, ...(l.decidedAfterWakeup ? { decided_after_wakeup: l.decidedAfterWakeup } : {}) });
}

/**
 * SQL: a row of `late_events` that counts as a late event. Not the merge stage's record of an on-time
 * event it decided after its partition woke up from idle (`evaluated_on_arrival` false and
 * `decided_after_wakeup`): kept for reconcile, it was never late. Read from storedLateJson's text, whose
 * key order is fixed: `,"decided_after_wakeup":{` can only be its own key (an event's fields are
 * scalars, and a string's quotes are escaped).
 */
export const COUNTED_LATE_SQL =
  `NOT (record_json LIKE '{"evaluated_on_arrival":false,%' AND record_json LIKE '%,"decided_after_wakeup":{%')`;

const ALSO_COLUMNS: StageColumn[] = [
  { name: 'pipeline', type: 'TEXT' }, { name: 'day', type: 'TEXT' }, { name: 'source', type: 'TEXT' }, { name: 'off', type: 'BIGINT' },
  { name: 'dirty_ws', type: 'BIGINT' }, { name: 'dirty_cell', type: 'TEXT' }, { name: 'key_json', type: 'TEXT' }, { name: 'hold', type: 'TEXT' }];

/**
 * Late events into `late_events` (idempotent per source offset). Only an event not stored before dirties
 * its cell (and the others it changes: `alsoChanges`), each only when its day is held
 * (`holdOf(pipeline, day)`): replaying the late topic changes nothing. Returns how many events were new.
 */
export async function appendLateBulk(tx: SqlDriver, schema: string, entries: readonly StoredLate[], holdOf: (pipeline: string, day: string) => HoldReason | null, at: number): Promise<number> {
  const unique = new Map<string, StoredLate>();
  for (const l of entries) {
    const id = `${l.pipeline}\u0000${l.source}\u0000${l.offset}`;
    // The merge stage's record of an event fed out of order stands for the worker's, whichever came first.
    if (!(unique.get(id)?.late.decidedAfterWakeup && !l.late.decidedAfterWakeup)) unique.set(id, l);
  }
  const holds = new Map([...unique].map(([id, l]) => [id, holdOf(l.pipeline, l.day)]));
  const also = [...unique.values()].flatMap((l) => l.alsoChanges.map((ws) => {
    const day = dayOf(ws);
    return [l.pipeline, day, l.source, l.offset, ws, l.cell, JSON.stringify(l.key), holdOf(l.pipeline, day)];
  })).filter((row) => row[7] !== null);
  const stage = await tx.stage(schema, 'stage_late', LATE_COLUMNS, [...unique].map(([id, l]) => [l.pipeline, l.day, l.source, l.offset,
    storedLateJson(l.late), l.windowStart, l.cell, JSON.stringify(l.key), holds.get(id) ?? null, 0]));
  const notStored = (s: string) => `NOT EXISTS (SELECT 1 FROM ${schema}.late_events e WHERE e.pipeline = ${s}.pipeline AND e.source = ${s}.source AND e."offset" = ${s}.off)`;
  // A rule's merge stage records the events it fed out of the canonical order after their worker's own
  // record of a late one: its record (the worker's verdict and where the merge took it) replaces that.
  const woke = [...unique.values()].filter((l) => l.late.decidedAfterWakeup !== undefined);
  if (woke.length > 0) {
    const update = await tx.stage(schema, 'stage_late_woke', WOKE_COLUMNS, woke.map((l) => [l.pipeline, l.source, l.offset, storedLateJson(l.late)]));
    await tx.query(
      `UPDATE ${schema}.late_events AS e SET record_json = w.record_json FROM ${update} w
       WHERE e.pipeline = w.pipeline AND e.source = w.source AND e."offset" = w.off`);
  }
  const held = also.length > 0 || [...holds.values()].some((h) => h !== null);
  // Nothing held (the live case): no cell to dirty, so no need to remember which events were new.
  if (!held) return tx.execute(`INSERT INTO ${schema}.late_events (pipeline, day, source, "offset", record_json) SELECT pipeline, day, source, off, record_json FROM ${stage} s WHERE ${notStored('s')}`);
  await tx.query(`UPDATE ${stage} SET news = 1 WHERE ${notStored(stage)}`);
  const added = await tx.execute(
    `INSERT INTO ${schema}.late_events (pipeline, day, source, "offset", record_json)
     SELECT pipeline, day, source, off, record_json FROM ${stage} WHERE news = 1`);
  if (added > 0) {
    await tx.query(
      `INSERT INTO ${schema}.dirty_cells (pipeline, day, window_start, cell, key_json, reason, recorded_at, consumed_by)
       SELECT pipeline, min(day), dirty_ws, dirty_cell, min(key_json), min(hold), $1::BIGINT, NULL FROM ${stage}
       WHERE news = 1 AND hold IS NOT NULL GROUP BY pipeline, dirty_ws, dirty_cell
       ON CONFLICT (pipeline, window_start, cell) DO UPDATE SET consumed_by = NULL, reason = excluded.reason, recorded_at = excluded.recorded_at`, [at]);
    if (also.length > 0) {
      const more = await tx.stage(schema, 'stage_late_also', ALSO_COLUMNS, also);
      await tx.query(
        `INSERT INTO ${schema}.dirty_cells (pipeline, day, window_start, cell, key_json, reason, recorded_at, consumed_by)
         SELECT m.pipeline, min(m.day), m.dirty_ws, m.dirty_cell, min(m.key_json), min(m.hold), $1::BIGINT, NULL
         FROM ${more} m JOIN ${stage} s ON s.pipeline = m.pipeline AND s.source = m.source AND s.off = m.off
         WHERE s.news = 1 GROUP BY m.pipeline, m.dirty_ws, m.dirty_cell
         ON CONFLICT (pipeline, window_start, cell) DO UPDATE SET consumed_by = NULL, reason = excluded.reason, recorded_at = excluded.recorded_at`, [at]);
    }
  }
  return added;
}

const CELL_COLUMNS: StageColumn[] = [
  { name: 'window_start', type: 'BIGINT' }, { name: 'cell', type: 'TEXT' }, { name: 'key_json', type: 'TEXT' }, { name: 'day', type: 'TEXT' },
  { name: 'reason', type: 'TEXT' }, { name: 'recorded_at', type: 'BIGINT' }];

/** The dirty cell's stored id: the key values in field order as JSON (pipeline/keys.ts storedCellId). */
export function dirtyCellId(key: KeyValues): string {
  return JSON.stringify(Object.values(key));
}

/**
 * Consumes the given dirty cells (one statement; deleted: nothing reads a consumed cell, and a DELETE
 * costs PostgreSQL a fifth of an UPDATE of the same rows): a cell dirtied again after it was read for
 * this backfill (`recordedAt` newer) stays dirty for the next one. Rows of older stores marked
 * `consumed_by` instead are ignored by every reader.
 */
export async function consumeDirty(tx: SqlDriver, schema: string, pipeline: string, cells: readonly DirtyCell[]): Promise<void> {
  if (cells.length === 0) return;
  const stage = await tx.stage(schema, 'stage_cells', CELL_COLUMNS, cells.map((d) => [d.windowStart, dirtyCellId(d.key), null, null, null, d.recordedAt ?? Number.MAX_SAFE_INTEGER]));
  await tx.execute(
    `DELETE FROM ${schema}.dirty_cells WHERE pipeline = $1 AND EXISTS (SELECT 1 FROM ${stage} c
       WHERE c.window_start = ${schema}.dirty_cells.window_start AND c.cell = ${schema}.dirty_cells.cell AND ${schema}.dirty_cells.recorded_at <= c.recorded_at)`,
    [pipeline]);
}

/** Marks the given cells dirty (one statement), e.g. the cells archive content added after a reconcile touches. */
export async function markDirtyCells(tx: SqlDriver, schema: string, pipeline: string, cells: readonly { day: string; windowStart: number; key: KeyValues }[], reason: string, at: number): Promise<void> {
  if (cells.length === 0) return;
  const unique = new Map(cells.map((c) => [`${c.windowStart}\u0000${dirtyCellId(c.key)}`, c]));
  const stage = await tx.stage(schema, 'stage_cells', CELL_COLUMNS, [...unique.values()].map((c) => [c.windowStart, dirtyCellId(c.key), JSON.stringify(c.key), c.day, reason, at]));
  await tx.query(
    `INSERT INTO ${schema}.dirty_cells (pipeline, day, window_start, cell, key_json, reason, recorded_at, consumed_by)
     SELECT $1::TEXT, day, window_start, cell, key_json, reason, recorded_at, NULL FROM ${stage}
     ON CONFLICT (pipeline, window_start, cell) DO UPDATE SET consumed_by = NULL, reason = excluded.reason, recorded_at = excluded.recorded_at`, [pipeline]);
}
