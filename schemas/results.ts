import { alertCellId, windowCellId, type KeyValues } from '../pipeline/keys.ts';
import { formatWatermark, isoMillis } from '../pipeline/time.ts';
import { presentValue, type AnyEvent, type EventSchema, type FieldValue } from './schema.ts';

export type { KeyValues } from '../pipeline/keys.ts';

/** Where an event came from: its source (file, topic-partition) and offset (line, Kafka offset). */
export interface EventPosition {
  readonly source: string;
  readonly offset: number;
}

/** One delivery's identity (its source and offset), as a Map or Set key. */
export const positionKey = (p: EventPosition): string => `${p.source}\u0000${p.offset}`;

/** One (window, key) result, at a revision. Times are epoch ms inside Concord, ISO strings on the wire. */
export interface WindowResult {
  readonly kind: 'window';
  readonly pipeline: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly key: KeyValues;
  readonly values: Record<string, number | null>;
  readonly revision: number;
  /** Watermark when emitted; +Infinity at end of input; null for replay (complete data). */
  readonly watermark: number | null;
  readonly definitionVersion: string;
  /** Extra replay-only values: the exact distinct count or percentile next to its estimate (null: a percentile over no value). */
  readonly extra?: Record<string, number | null>;
}

export interface AlertResult {
  readonly kind: 'alert';
  readonly pipeline: string;
  readonly key: KeyValues;
  /** Id field name and value of the event that raised the alert (e.g. txn_id). */
  readonly idField: string;
  readonly id: string;
  readonly ts: number;
  /** Output field name and the measure that crossed the threshold: the sorted distinct values, or M. */
  readonly output: string;
  readonly value: readonly FieldValue[] | number;
  /** Raised by a late transaction evaluated on arrival. */
  readonly late: boolean;
  readonly watermark: number | null;
  readonly definitionVersion: string;
}

export type ResultRecord = WindowResult | AlertResult;

/** A late event sent to the side output. Window fields are absent for rule pipelines. */
export interface LateRecord {
  readonly pipeline: string;
  readonly event: AnyEvent;
  readonly position: EventPosition;
  readonly watermark: number;
  readonly windowStart?: number;
  readonly windowEnd?: number;
}

/** A rejected input line or message. */
export interface DeadLetter {
  readonly source: string;
  readonly offset: number;
  readonly field: string | null;
  readonly reason: string;
  readonly raw: string;
  /** Time quarantine (reason future_timestamp | past_horizon): what the event time (`eventTime`) was judged against. */
  readonly reference?: { readonly at: number; readonly basis: string; readonly detail: string; readonly eventTime: number };
  /**
   * A JSON object refused for another field than its time, whose time field read (epoch ms): definitions
   * changed later (an alias, a field made optional) may take the event, and reconcile files the rejection
   * under this time (store/rejection-records.ts).
   */
  readonly eventTime?: number;
  /** `raw` is base64 of the original bytes (they were not UTF-8). */
  readonly rawEncoding?: 'base64';
  /** Bytes of the whole line when `raw` holds only a prefix of it. */
  readonly rawBytes?: number;
}

/** Where a rejected line or record was and why, for a summary line: `file:day.jsonl offset 17: <reason>`. */
export const rejectionText = (d: DeadLetter): string => `${d.source} offset ${d.offset}: ${d.reason}`;

/** The cell a result belongs to (pipeline apart): `window start \0 key` or `key \0 event id` (pipeline/keys.ts). */
export function cellKey(r: ResultRecord): string {
  const fields = Object.keys(r.key);
  return r.kind === 'window' ? windowCellId(r.windowStart, fields, r.key) : alertCellId(fields, r.key, r.ts, r.id);
}

/** An event as written out (late outputs): the time as ISO, decimals in major units, like the input. */
export function eventToJson(event: AnyEvent, schema: EventSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (v !== undefined) out[k] = k === schema.timeField ? isoMillis(v as number) : presentValue(schema.fields[k], v);
  return out;
}

/** The output line format: `{pipeline, window_start, window_end, <key>, <values>, revision, ...}`. */
export function resultToJson(r: ResultRecord): Record<string, unknown> {
  if (r.kind === 'window') {
    return {
      pipeline: r.pipeline,
      window_start: isoMillis(r.windowStart),
      window_end: isoMillis(r.windowEnd),
      ...r.key,
      ...r.values,
      ...r.extra,
      revision: r.revision,
      watermark: r.watermark === null ? null : formatWatermark(r.watermark),
      definition_version: r.definitionVersion,
    };
  }
  return {
    pipeline: r.pipeline,
    ...r.key,
    [r.idField]: r.id,
    ts: isoMillis(r.ts),
    [r.output]: r.value,
    ...(r.late ? { late: true } : {}),
    watermark: r.watermark === null ? null : formatWatermark(r.watermark),
    definition_version: r.definitionVersion,
  };
}

export function lateToJson(l: LateRecord, schema: EventSchema): Record<string, unknown> {
  return {
    pipeline: l.pipeline,
    event: eventToJson(l.event, schema),
    watermark: formatWatermark(l.watermark),
    ...(l.windowStart === undefined ? {} : { window_start: isoMillis(l.windowStart), window_end: isoMillis(l.windowEnd!) }),
  };
}
