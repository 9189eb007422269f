import { SchemaViolationError } from '../pipeline/errors.ts';
import { describe } from './value-text.ts';

/**
 * Where an event carries a field: its own name, then each of its `aliases`, then its `paths` entry
 * (a key inside nested objects: `user.id`). One reader for every part that reads a raw event —
 * the validator (schemas/schema.ts), the dead letter's event time (schemas/decode.ts) and `produce`'s
 * record key (stream/kafka/topics.ts) — so the stream, the archive, the keying and reconcile see the
 * same value. The archive stores the value read, under the field's own name: replay never reads a path.
 */

/** A path's keys from the top-level object inward, at least two (one key is an alias). */
export type FieldPath = readonly string[];

/** Field -> path; own entries only (a field `constructor` has none from Object). */
export function pathOf(paths: Readonly<Record<string, FieldPath>> | undefined, field: string): FieldPath | undefined {
  return paths !== undefined && Object.hasOwn(paths, field) ? paths[field] : undefined;
}

/** A path as the user writes it: `"user.id"`, or the list `["meta","a.b"]` when a key holds a dot. */
export function pathText(path: FieldPath): string {
  return path.some((k) => k.includes('.')) ? JSON.stringify(path) : JSON.stringify(path.join('.'));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The value at `path` in the event `input`. undefined when an object on the way is absent or null (the
 * field is then absent: null for an optional field, a dead letter for a required one); throws
 * `SchemaViolationError` naming `field` and the place when a value on the way is no object (a string,
 * a number, an array): `user_id: expected an object at "user", got string "x"`.
 */
export function valueAtPath(input: Record<string, unknown>, path: FieldPath, field: string): unknown {
  let at: unknown = input;
  for (let i = 0; i < path.length; i++) {
    if (at === undefined || at === null) return undefined;
    if (!isObject(at)) throw new SchemaViolationError(field, `expected an object at ${pathText(path.slice(0, i))}, got ${describe(at)}`);
    const key = path[i]!;
    at = Object.hasOwn(at, key) ? at[key] : undefined;
  }
  return at;
}

/** Why nothing is at `path` (for a required field's reason): `no "user" in the event`, `"user" has no "id"`, `"user" is null`. */
export function pathAbsence(input: Record<string, unknown>, path: FieldPath): string {
  let at: Record<string, unknown> = input;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    const value = Object.hasOwn(at, key) ? at[key] : undefined;
    const where = i === 0 ? 'the event' : pathText(path.slice(0, i));
    if (value === undefined) return i === 0 ? `no ${JSON.stringify(key)} in the event` : `${where} has no ${JSON.stringify(key)}`;
    if (value === null) return `${pathText(path.slice(0, i + 1))} is null`;
    if (!isObject(value)) return `${pathText(path.slice(0, i + 1))} is ${describe(value)}`;
    at = value;
  }
  return 'absent';
}

/** A value read at a field's own name whose path starts there: an object is no value but the way in. */
export function notObject(value: unknown): unknown {
  return isObject(value) ? undefined : value;
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
  let value = path?.[0] === field ? notObject(own(field)) : own(field);
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
