/** Checks one `schemas.NAME` entry of a definitions file and builds its `EventSchema`. */

import { MAX_DECIMAL_SCALE, fieldTypeName, type EventSchema, type FieldDef, type FieldKind } from '../schemas/schema.ts';
import { isObject, q, type Problems } from './definitions-problems.ts';
import { DEFAULT_MAX_FUTURE_SKEW } from './time-guard.ts';

const TYPE = /^(string|int|double|bool|timestamp|decimal\((\d+)\))(\?)?$/;

function parseField(p: Problems, path: string, type: unknown): FieldDef | undefined {
  const m = typeof type === 'string' ? TYPE.exec(type.trim()) : null;
  if (!m) {
    p.add(path, `unknown type ${q(type)}; use string, int, double, bool, timestamp or decimal(N), with ? for optional`);
    return undefined;
  }
  const required = m[3] === undefined;
  if (m[2] !== undefined) {
    const scale = Number(m[2]);
    if (scale > MAX_DECIMAL_SCALE) {
      p.add(path, `decimal(${scale}) has more than ${MAX_DECIMAL_SCALE} decimals (values are held exactly as integer minor units)`);
      return undefined;
    }
    return { kind: 'decimal', scale, required, doc: '' };
  }
  return { kind: m[1] as FieldKind, required, doc: '' };
}

/** The schema, or undefined when it has no fields to check pipelines against (problems say why). */
export function parseSchema(p: Problems, name: string, spec: unknown): EventSchema | undefined {
  const path = `schemas.${name}`;
  if (!isObject(spec)) {
    p.add(path, `expected an object {time, id, key, fields}, got ${q(spec)}`);
    return undefined;
  }
  p.keys(path, spec, ['time', 'id', 'key', 'fields', 'max_future_skew', 'past_horizon', 'description']);
  if (!isObject(spec.fields) || Object.keys(spec.fields).length === 0) {
    p.add(`${path}.fields`, 'expected an object of field name -> type with at least one field');
    return undefined;
  }
  const fields: Record<string, FieldDef> = {};
  const declared: Record<string, unknown> = spec.fields;
  const seen = new Map<string, string>();
  for (const [f, type] of Object.entries(declared)) {
    if (f.length === 0) p.add(`${path}.fields`, 'a field name must not be empty');
    // `_...` names are the archive's own columns (_source, _offset, hashes) and the replay's internals.
    if (f.startsWith('_')) p.add(`${path}.fields.${f}`, `${q(f)}: names starting with "_" are reserved for Concord's own columns; rename the field`);
    // SQL (DuckDB) matches column names without regard to case: two such fields would be one column.
    const folded = f.toLowerCase();
    if (seen.has(folded)) p.add(`${path}.fields.${f}`, `${q(f)} differs from ${q(seen.get(folded))} only in case; columns would collide`);
    seen.set(folded, f);
    const def = parseField(p, `${path}.fields.${f}`, type);
    // Events are plain objects: an event without an optional `constructor` still answered for it with
    // Object's function, so it was a dead letter ("expected a string, got function"). A required one is
    // in every event that passes.
    if (def && !def.required && f in Object.prototype) {
      p.add(`${path}.fields.${f}`, `${q(f)} is a name every JavaScript object answers to (Object.prototype.${f}): an event without it would still seem to hold it; rename the field or make it required`);
    }
    if (def) fields[f] = def;
  }
  const role = (key: 'time' | 'id' | 'key', kind: FieldKind | undefined, optional: boolean): string | undefined => {
    const v = spec[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || !Object.hasOwn(declared, v)) {
      p.add(`${path}.${key}`, v === undefined ? `required: the name of the ${key === 'time' ? 'event-time' : 'event id'} field` : `${q(v)} is not a field of the schema`);
      return undefined;
    }
    const def = fields[v];
    if (def && kind && (def.kind !== kind || !def.required)) p.add(`${path}.${key}`, `${q(v)} must be a required ${kind}; it is ${fieldTypeName(def)}`);
    return v;
  };
  const time = role('time', 'timestamp', false), id = role('id', 'string', false), key = role('key', undefined, true);
  const guard = (k: 'max_future_skew' | 'past_horizon', fallback: number): number | undefined =>
    spec[k] === undefined ? fallback : spec[k] === 'off' ? Infinity : p.duration(`${path}.${k}`, spec[k], true);
  const maxFutureSkewMs = guard('max_future_skew', DEFAULT_MAX_FUTURE_SKEW), pastHorizonMs = guard('past_horizon', Infinity);
  return {
    // Without a time or id field this is a draft, returned so pipelines are still checked against its
    // fields; its problems are listed, and parseDefinitions builds nothing while any problem stands.
    name, timeField: time ?? '', idField: id ?? '', ...(key === undefined ? {} : { keyField: key }), fields,
    ...(maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs }), ...(pastHorizonMs === undefined || pastHorizonMs === Infinity ? {} : { pastHorizonMs }),
  };
}
