import { presentValue, type AnyEvent, type EventSchema } from '../schemas/schema.ts';

/**
 * Cell identity, owned here and nowhere else: a key's identity is its key fields' values in definition
 * order, null marked apart from the string "null"; a window cell is (window start, key), an alert cell
 * (key, event time, event id): ids may repeat. Operators, the merge stage, replay, reconcile and the store all call these.
 */
const NULL = '\u0001null';

/** The identity of a key, over key values as results carry them (an event's: `eventPaneId`). Unkeyed: ''. */
export function paneId(keyFields: readonly string[], values: Readonly<Record<string, unknown>>): string {
  if (keyFields.length === 0) return '';
  if (keyFields.length === 1) return String(values[keyFields[0]!] ?? NULL);
  return keyFields.map((k) => String(values[k] ?? NULL)).join('\u0000');
}

/** A window cell: `start \0 key identity`, over a result's key values (an event's: `eventWindowCellId`). */
export function windowCellId(windowStart: number, keyFields: readonly string[], values: Readonly<Record<string, unknown>>): string {
  return `${windowStart}\u0000${paneId(keyFields, values)}`;
}

/**
 * The identity of an event's key: the same as its results' (`paneId` over `keyValuesOf`). Events hold
 * decimals in minor units, results in major units (1.5 is 15 in an event of decimal(1)), so an event's
 * own values must not be given to `paneId` when a key field is a decimal. For many events: `eventPaneIdOf`.
 */
export function eventPaneId(schema: EventSchema, keyFields: readonly string[], event: Readonly<Record<string, unknown>>): string {
  return hasDecimal(schema, keyFields) ? paneId(keyFields, keyValuesOf(schema, keyFields, event as AnyEvent)) : paneId(keyFields, event);
}

/** `eventPaneId` for one key: the event's own values straight to `paneId` unless a key field is a decimal. */
export function eventPaneIdOf(schema: EventSchema, keyFields: readonly string[]): (event: Readonly<Record<string, unknown>>) => string {
  if (!hasDecimal(schema, keyFields)) return (event) => paneId(keyFields, event);
  return (event) => paneId(keyFields, keyValuesOf(schema, keyFields, event as AnyEvent));
}

const hasDecimal = (schema: EventSchema, keyFields: readonly string[]) => keyFields.some((k) => schema.fields[k]?.kind === 'decimal');

/** An event's window cell, the same as its results' (see `eventPaneId`). */
export function eventWindowCellId(schema: EventSchema, windowStart: number, keyFields: readonly string[], event: Readonly<Record<string, unknown>>): string {
  return `${windowStart}\u0000${eventPaneId(schema, keyFields, event)}`;
}

/** An alert cell: `key identity \0 event time \0 event id`. */
export function alertCellId(keyFields: readonly string[], values: Readonly<Record<string, unknown>>, ts: number, id: string): string {
  return `${paneId(keyFields, values)}\u0000${ts}\u0000${id}`;
}

/** A result's key values as written out: decimals in major units, absent as null. */
export type KeyValues = Record<string, string | number | boolean | null>;

export function keyValuesOf(schema: EventSchema, keyFields: readonly string[], event: AnyEvent): KeyValues {
  const key: KeyValues = {};
  for (const k of keyFields) {
    const v = event[k];
    key[k] = v === undefined ? null : presentValue(schema.fields[k], v);
  }
  return key;
}

/**
 * A cell's key as the store keeps it in a text column: the key values (then the alert's event id) as a
 * JSON array — NUL-free for PostgreSQL, null apart from "null" — unique within (pipeline, window start).
 */
export function storedCellId(key: KeyValues, alertId?: string): string {
  const values = Object.values(key);
  return JSON.stringify(alertId === undefined ? values : [...values, alertId]);
}
