import { SchemaViolationError } from '../pipeline/errors.ts';
import { describe } from './value-text.ts';

/**
 * Where an event carries a field: its own name, then each of its `aliases`, then its `paths` entry
 * (a key inside nested objects, an element of an array: `user.id`, `items[0].sku`). One reader for every part that reads a raw event —
 * the validator (schemas/schema.ts), the dead letter's event time (schemas/decode.ts) and `produce`'s
 * record key (stream/kafka/topics.ts) — so the stream, the archive, the keying and reconcile see the
 * same value. The archive stores the value read, under the field's own name: replay never reads a path.
 */

/**
 * One step of a path: a key of an object (a string), or an element of an array (a number: 0 the first,
 * -1 the last, as Flink's JSON_VALUE `$.items[-1]`).
 */
export type PathStep = string | number;

/** A path's steps from the top-level object inward: a key first, then at least one more step (one key is an alias). */
export type FieldPath = readonly [string, ...PathStep[]];

/** Field -> path; own entries only (a field `constructor` has none from Object). */
export function pathOf(paths: Readonly<Record<string, FieldPath>> | undefined, field: string): FieldPath | undefined {
  return paths !== undefined && Object.hasOwn(paths, field) ? paths[field] : undefined;
}

/** A key the text form can write: `"items[0].price"` is split at dots and brackets. */
export const isTextKey = (key: string): boolean => !/[.[\]]/.test(key);

/** The text form, unquoted: `user.id`, `items[0].price`, `coords[-1]` (keys holding a dot or a bracket joined as they are). */
export function dottedPath(path: readonly PathStep[]): string {
  return path.map((step, i) => (typeof step === 'number' ? `[${step}]` : i === 0 ? step : `.${step}`)).join('');
}

/** A path as the user writes it: `"user.id"`, `"items[0].price"`, or the list `["meta","a.b"]` when a key holds a dot or a bracket. */
export function pathText(path: readonly PathStep[]): string {
  return path.every((k) => typeof k === 'number' || isTextKey(k)) ? JSON.stringify(dottedPath(path)) : JSON.stringify(path);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The element `index` of `array` (negative from the end), undefined when there is none. */
const element = (array: readonly unknown[], index: number): unknown => array[index < 0 ? array.length + index : index];

/**
 * The value at `path` in the event `input`. undefined when an object or array on the way is absent or
 * null, or an array has no such element (the field is then absent: null for an optional field, a dead
 * letter for a required one); throws `SchemaViolationError` naming `field` and the place when a value
 * on the way is not what the next step walks (a key needs an object, an index an array):
 * `user_id: expected an object at "user", got string "x"`, `sku: expected an array at "items", got object {...}`.
 */
export function valueAtPath(input: Record<string, unknown>, path: FieldPath, field: string): unknown {
  let at: unknown = input;
  for (let i = 0; i < path.length; i++) {
    if (at === undefined || at === null) return undefined;
    const step = path[i]!;
    if (typeof step === 'number') {
      if (!Array.isArray(at)) throw new SchemaViolationError(field, `expected an array at ${pathText(path.slice(0, i))}, got ${describe(at)}`);
      at = element(at, step);
    } else {
      if (!isObject(at)) throw new SchemaViolationError(field, `expected an object at ${pathText(path.slice(0, i))}, got ${describe(at)}${indexHint(path, i, at)}`);
      at = Object.hasOwn(at, step) ? at[step] : undefined;
    }
  }
  return at;
}

/** An array met where a digit key was written (`"coords.0"`): the index form is likely what was meant. */
function indexHint(path: FieldPath, i: number, at: unknown): string {
  const step = path[i];
  if (!Array.isArray(at) || typeof step !== 'string' || !/^-?\d+$/.test(step)) return '';
  const meant = [...path.slice(0, i), Number(step), ...path.slice(i + 1)];
  return ` (an index is written in brackets: ${pathText(meant)})`;
}

/**
 * Why nothing is at `path` (for a required field's reason): `no "user" in the event`, `"user" has no "id"`,
 * `"user" is null`, `"items" has no element 2 (it has 2)`, `"items" is an empty array`.
 */
export function pathAbsence(input: Record<string, unknown>, path: FieldPath): string {
  let at: unknown = input;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    const where = pathText(path.slice(0, i));
    let value: unknown;
    if (typeof step === 'number') {
      if (!Array.isArray(at)) return `${where} is ${describe(at)}`;
      if (at.length === 0) return `${where} is an empty array`;
      value = element(at, step);
      if (value === undefined) return `${where} has no element ${step} (it has ${at.length})`;
    } else {
      if (!isObject(at)) return `${where} is ${describe(at)}`;
      value = Object.hasOwn(at, step) ? at[step] : undefined;
      if (value === undefined) return i === 0 ? `no ${JSON.stringify(step)} in the event` : `${where} has no ${JSON.stringify(step)}`;
    }
    if (value === null) return `${pathText(path.slice(0, i + 1))} is null`;
    at = value;
  }
  return 'absent';
}

/**
 * A value read at a field's own name whose path starts there: what the path's next step walks (an
 * object for a key, an array for an index) is no value but the way in (`"url": {"path": "/p1"}` for
 * the path `"url.path"`, `"coords": [1.2, 3.4]` for `"coords[0]"`).
 */
export function ownValue(value: unknown, path: FieldPath): unknown {
  const wayIn = typeof path[1] === 'number' ? Array.isArray(value) : isObject(value);
  return wayIn ? undefined : value;
}

/** The schema's reading places of a field, as `readField` takes them. */
export interface FieldPlaces {
  readonly aliases?: Readonly<Record<string, readonly string[]>>;
  readonly paths?: Readonly<Record<string, FieldPath>>;
}

/**
 * A field's raw value in a parsed event object as the schema reads it: its own name, each alias, then
 * its path, while the value is absent or null. Throws `SchemaViolationError` as `valueAtPath` does.
 */
export function readField(schema: FieldPlaces, input: Record<string, unknown>, field: string): unknown {
  const own = (n: string): unknown => (Object.hasOwn(input, n) ? input[n] : undefined);
  const path = pathOf(schema.paths, field);
  // A path from the field's own name (`"url": "url.path"`): an object there is the way in, not the value.
  let value = path?.[0] === field ? ownValue(own(field), path) : own(field);
  if (value !== undefined && value !== null) return value;
  const aliases = schema.aliases !== undefined && Object.hasOwn(schema.aliases, field) ? schema.aliases[field]! : [];
  for (const name of aliases) {
    const v = own(name);
    if (v !== undefined && v !== null) return v;
    value ??= v;
  }
  if (path === undefined) return value;
  return valueAtPath(input, path, field) ?? value;
}
