/** Checks one `schemas.NAME` entry of a definitions file and builds its `EventSchema`. */

import { EPOCH_UNITS, MAX_DECIMAL_SCALE, fieldTypeName, type EpochUnit, type EventSchema, type FieldDef, type FieldKind } from '../schemas/schema.ts';
import { closest, isObject, q, type Problems } from './definitions-problems.ts';
import { parsePaths } from './parse-field-paths.ts';
import { parseTimeZone } from './parse-time-zone.ts';
import { DEFAULT_MAX_FUTURE_SKEW } from './time-guard.ts';

const TYPE = /^(string|int|double|bool|timestamp|decimal\((\d+)\))(\?)?$/;

// Type names of Flink SQL, SQL and JSON Schema, each with the type of this file that reads the same values.
const TYPE_WORDS: Record<string, string> = {
  string: 'string', varchar: 'string', char: 'string', text: 'string',
  int: 'int', integer: 'int', bigint: 'int', smallint: 'int', tinyint: 'int', long: 'int', int32: 'int', int64: 'int',
  double: 'double', float: 'double', real: 'double', float32: 'double', float64: 'double', doubleprecision: 'double',
  bool: 'bool', boolean: 'bool',
  timestamp: 'timestamp', timestamp_ltz: 'timestamp', datetime: 'timestamp', timestampwithlocaltimezone: 'timestamp', timestampwithtimezone: 'timestamp',
};

/** A "did you mean" clause for a type this file does not name ("DOUBLE", "BIGINT", "DECIMAL(10, 3)"), or ''. */
function typeHint(type: unknown): string {
  if (typeof type !== 'string') return '';
  const optional = type.trim().endsWith('?') ? '?' : '';
  const word = type.trim().replace(/\?$/, '').toLowerCase().replace(/\s+/g, '');
  // SQL's DECIMAL(precision, scale): the scale is the number of decimals; no precision is needed here.
  const decimal = /^(?:decimal|numeric)\((?:\d+,)?(\d+)\)$/.exec(word);
  if (decimal) return ` (did you mean "decimal(${decimal[1]})${optional}"? N is the number of decimals, SQL's scale)`;
  if (word === 'decimal' || word === 'numeric') return ` (decimal needs its number of decimals: "decimal(2)${optional}" for cents, "decimal(3)${optional}" for thousandths)`;
  const meant = TYPE_WORDS[word.replace(/\(\d+\)/, '')];
  return meant === undefined ? '' : ` (did you mean "${meant}${optional}"?)`;
}

function parseField(p: Problems, path: string, type: unknown): FieldDef | undefined {
  const m = typeof type === 'string' ? TYPE.exec(type.trim()) : null;
  if (!m) {
    p.add(path, `unknown type ${q(type)}${typeHint(type)}; use string, int, double, bool, timestamp or decimal(N), with ? for optional`);
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
  p.keys(path, spec, ['time', 'id', 'key', 'fields', 'max_future_skew', 'past_horizon', 'epoch_unit', 'time_zone', 'aliases', 'paths', 'description']);
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
  const epochUnit = parseEpochUnit(p, `${path}.epoch_unit`, spec.epoch_unit);
  const aliases = parseAliases(p, `${path}.aliases`, spec.aliases, declared);
  const paths = parsePaths(p, `${path}.paths`, spec.paths, declared, aliases);
  const timeZone = parseTimeZone(p, `${path}.time_zone`, spec.time_zone);
  // Another name of the zone than the runtime's id (a link: Asia/Kolkata -> Asia/Calcutta) is shown as written.
  const written = typeof spec.time_zone === 'string' && timeZone !== undefined && spec.time_zone.toLowerCase() !== timeZone.toLowerCase() ? spec.time_zone : undefined;
  return {
    // Without a time or id field this is a draft, returned so pipelines are still checked against its
    // fields; its problems are listed, and parseDefinitions builds nothing while any problem stands.
    name, timeField: time ?? '', idField: id ?? '', ...(key === undefined ? {} : { keyField: key }), fields,
    ...(maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs }), ...(pastHorizonMs === undefined || pastHorizonMs === Infinity ? {} : { pastHorizonMs }),
    // "ms" written out is the default: left out, so it makes no other definition version.
    ...(epochUnit === undefined || epochUnit === 'ms' ? {} : { epochUnit }), ...(aliases === undefined ? {} : { aliases }),
    ...(paths === undefined ? {} : { paths }), ...(timeZone === undefined ? {} : { timeZone }),
    ...(written === undefined ? {} : { timeZoneAsWritten: written }),
  };
}

// The units' longer names, which are too far from "s" and "ms" for a slip of the keyboard.
const UNIT_WORDS: Readonly<Record<string, EpochUnit>> = {
  sec: 's', secs: 's', second: 's', seconds: 's', epoch_s: 's', epoch_seconds: 's', unix: 's',
  msec: 'ms', millis: 'ms', millisecond: 'ms', milliseconds: 'ms', epoch_ms: 'ms', epoch_millis: 'ms',
};

function parseEpochUnit(p: Problems, path: string, value: unknown): EpochUnit | undefined {
  if (value === undefined || EPOCH_UNITS.includes(value as EpochUnit)) return value as EpochUnit | undefined;
  const meant = typeof value === 'string' ? (UNIT_WORDS[value.trim().toLowerCase()] ?? closest(value, EPOCH_UNITS)) : undefined;
  p.add(path, `unknown unit ${q(value)}${meant === undefined ? '' : ` (did you mean ${q(meant)}?)`}; use "ms" (epoch milliseconds, the default), "s" (epoch seconds) or "auto" (below 10^11 seconds, else milliseconds)`);
  return undefined;
}

/** `aliases`: field -> the other names (a string or a list) an event may carry it under. */
function parseAliases(p: Problems, path: string, value: unknown, declared: Record<string, unknown>): Record<string, readonly string[]> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    p.add(path, `expected an object of field name -> other name(s), e.g. {"userId": ["user_id"]}, got ${q(value)}`);
    return undefined;
  }
  const out: Record<string, readonly string[]> = {};
  const owner = new Map<string, string>();
  for (const [field, names] of Object.entries(value)) {
    if (!Object.hasOwn(declared, field)) {
      const meant = closest(field, Object.keys(declared));
      p.add(`${path}.${field}`, `${q(field)} is not a field of the schema${meant === undefined ? '' : ` (did you mean ${q(meant)}?)`}`);
      continue;
    }
    const list = typeof names === 'string' ? [names] : names;
    if (!Array.isArray(list) || list.length === 0 || list.some((n) => typeof n !== 'string' || n.length === 0)) {
      p.add(`${path}.${field}`, `expected a name or a list of names, got ${q(names)}`);
      continue;
    }
    for (const name of list as string[]) {
      // Another field's own name or another field's alias would let one key fill two fields.
      if (Object.hasOwn(declared, name)) p.add(`${path}.${field}`, `${q(name)} is a field of the schema itself; an alias names a key events carry instead of ${q(field)}`);
      else if (owner.has(name)) p.add(`${path}.${field}`, `${q(name)} is already an alias of ${q(owner.get(name))}`);
      else if (name.startsWith('_') || name in Object.prototype) p.add(`${path}.${field}`, `${q(name)} cannot be an alias (names starting with "_" are reserved, and every JavaScript object answers to ${q(name)})`);
      owner.set(name, field);
    }
    out[field] = list as string[];
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
