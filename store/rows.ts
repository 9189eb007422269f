import type { LoggedLate } from '../reconcile/reconcile.ts';
import type { AlertResult, KeyValues, LateRecord, ResultRecord, WindowResult } from '../schemas/results.ts';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { keyValuesOf, storedCellId } from '../pipeline/keys.ts';
import { assignWindows } from '../pipeline/windows.ts';

/**
 * How results live in the store: one row per cell and version, where a cell is (pipeline,
 * window_start, key) and a version is a generation (0: the stream's own rows; 1, 2, ...: reconciled
 * versions of a day). Pure mapping between Concord's records and those rows.
 */
export type Provenance = 'realtime' | 'late-update' | 'reconciled' | 'backfill';

export interface StoredRow {
  pipeline: string;
  generation: number;
  /** Window start; alerts: the alerting event's ts. */
  windowStart: number;
  /** Canonical key: the key values in field order as JSON (alerts: with the alert id). */
  cell: string;
  day: string;
  kind: 'window' | 'alert';
  windowEnd: number | null;
  key: KeyValues;
  /** Window values, or for an alert `{ <id field>: id, <values field>: [...] }`. */
  values: Record<string, unknown>;
  revision: number;
  provenance: Provenance;
  /** W at emit (null: replayed, complete data; +-Infinity allowed). */
  watermark: number | null;
  definitionVersion: string;
  writtenAt: number;
  jobId: string | null;
}

const DAY_MS = 86_400_000;
const dayNames = new Map<number, string>();

/** The UTC day of an instant, YYYY-MM-DD; memoised per day (toISOString per row was a hot spot of bulk writes). */
export function dayOf(ms: number): string {
  const index = Math.floor(ms / DAY_MS);
  let name = dayNames.get(index);
  if (name === undefined) {
    name = new Date(index * DAY_MS).toISOString().slice(0, 10);
    if (dayNames.size > 10_000) dayNames.clear();
    dayNames.set(index, name);
  }
  return name;
}

export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`);
}

/** The stored cell key of a record (pipeline/keys.ts). */
export function cellOf(r: ResultRecord): string {
  return storedCellId(r.key, r.kind === 'window' ? undefined : r.id);
}

/** Where a record's row sits in time: the window start, or an alert's event time. */
export function rowStartOf(r: ResultRecord): number {
  return r.kind === 'window' ? r.windowStart : r.ts;
}

/** A record's stored revision (alerts have one version). */
export function revisionOf(r: ResultRecord): number {
  return r.kind === 'window' ? r.revision : 0;
}

/** What the stream's own rows record as their origin. */
export function streamProvenance(r: ResultRecord): Provenance {
  return r.kind === 'window' && r.revision > 0 ? 'late-update' : 'realtime';
}

/** A record's stored values: a window's values, or for an alert `{ <id field>: id, <values field>: [...], late }`. */
export function storedValues(r: ResultRecord): Record<string, unknown> {
  return r.kind === 'window' ? { ...r.values } : { [r.idField]: r.id, [r.output]: Array.isArray(r.value) ? [...r.value] : r.value, late: r.late };
}

export function toRow(r: ResultRecord, o: { generation: number; provenance?: Provenance; writtenAt: number; jobId?: string | null }): StoredRow {
  const at = rowStartOf(r);
  return {
    pipeline: r.pipeline,
    generation: o.generation,
    windowStart: at,
    cell: cellOf(r),
    day: dayOf(at),
    kind: r.kind,
    windowEnd: r.kind === 'window' ? r.windowEnd : null,
    key: r.key,
    values: storedValues(r),
    revision: revisionOf(r),
    provenance: o.provenance ?? streamProvenance(r),
    watermark: r.watermark,
    definitionVersion: r.definitionVersion,
    writtenAt: o.writtenAt,
    jobId: o.jobId ?? null,
  };
}

/** Back to a result record (what reconcile and the report read). */
export function toRecord(row: StoredRow, def: PipelineDefinition): ResultRecord {
  if (row.kind === 'window') {
    const w: WindowResult = {
      kind: 'window', pipeline: row.pipeline, windowStart: row.windowStart, windowEnd: row.windowEnd ?? row.windowStart,
      key: row.key, values: row.values as Record<string, number | null>, revision: row.revision, watermark: row.watermark,
      definitionVersion: row.definitionVersion,
    };
    return w;
  }
  const idField = def.schema.idField;
  const output = def.kind === 'rule' ? def.rule.output : 'values';
  const a: AlertResult = {
    kind: 'alert', pipeline: row.pipeline, key: row.key, idField, id: String(row.values[idField]), ts: row.windowStart,
    output, value: (row.values[output] as AlertResult['value'] | undefined) ?? [], late: row.values.late === true,
    watermark: row.watermark, definitionVersion: row.definitionVersion,
  };
  return a;
}

/**
 * The digits after the point at which a window output's values are whole numbers, for totals summed
 * exactly as integers (StoreSnapshot.top): N for sum, min, max or approx_percentile (a bucket bound: whole
 * minor units for whole minor units) of a decimal(N) field (stored in major
 * units, 12.34, summed in units of 10^-N); 0 for counts, distinct counts and sum, min or max of an int.
 * Null for doubles and averages, which have no fixed scale.
 */
export function exactDigitsOf(def: PipelineDefinition, output: string): number | null {
  if (def.kind !== 'windowed') return null;
  const spec = def.aggregates.find((a) => a.output === output)?.aggregate;
  if (spec === undefined || spec.kind === 'avg') return null;
  if (spec.kind === 'count' || spec.kind === 'count_distinct' || spec.kind === 'approx_distinct') return 0;
  const field = def.schema.fields[spec.field];
  return field?.kind === 'decimal' ? (field.scale ?? 0) : field?.kind === 'int' ? 0 : null;
}

/** A late event as stored, with the cell it belongs to (windowed: its window; rules: the key's day). */
export interface StoredLate {
  pipeline: string;
  day: string;
  windowStart: number;
  cell: string;
  key: KeyValues;
  source: string;
  offset: number;
  late: LoggedLate;
  /**
   * The other cells' window starts (same key) the late event changes, dirtied too, each under its own
   * day: hopping windows, every window it skipped (it is late for all of them; the record names the
   * last); rules, the next day's (the key's alerts there count it while within one span of it).
   */
  alsoChanges: readonly number[];
}

export function lateToStored(def: PipelineDefinition, l: LoggedLate): StoredLate {
  const r: LateRecord = l.record;
  const ts = r.event[def.schema.timeField] as number;
  const keyFields = def.kind === 'windowed' ? def.key : [def.key];
  const key = keyValuesOf(def.schema, keyFields, r.event);
  // Rules have no window: the cell is the key (a backfill redoes the key's alerts of the day).
  const windowStart = def.kind === 'windowed' ? (r.windowStart ?? ts) : dayStart(dayOf(ts));
  return {
    pipeline: def.name, day: dayOf(def.kind === 'windowed' ? windowStart : ts), windowStart,
    cell: storedCellId(key), key, source: r.position.source, offset: r.position.offset, late: l,
    alsoChanges: def.kind === 'windowed'
      ? (def.window.kind === 'hopping' && !l.evaluatedOnArrival ? assignWindows(def.window, ts).filter((ws) => ws !== windowStart) : [])
      : (ts + def.rule.span > windowStart + DAY_MS ? [windowStart + DAY_MS] : []),
  };
}

/** A stored row as read from `result_rows` or `result_history`. */
export function rowFromDb(x: Record<string, unknown>): StoredRow {
  const w = x.watermark === null || x.watermark === undefined ? null : x.watermark === 'inf' ? Number.POSITIVE_INFINITY : x.watermark === '-inf' ? Number.NEGATIVE_INFINITY : Number(x.watermark);
  return {
    pipeline: String(x.pipeline), generation: Number(x.generation), windowStart: Number(x.window_start), cell: String(x.cell),
    day: String(x.day), kind: x.kind === 'alert' ? 'alert' : 'window', windowEnd: x.window_end === null ? null : Number(x.window_end),
    key: JSON.parse(String(x.key_json)) as KeyValues, values: JSON.parse(String(x.values_json)) as Record<string, unknown>,
    revision: Number(x.revision), provenance: String(x.provenance) as Provenance, watermark: w,
    definitionVersion: String(x.definition_version), writtenAt: Number(x.written_at), jobId: x.job_id === null ? null : String(x.job_id),
  };
}
