/** Checks a schema's `paths` entry of a definitions file (docs/definitions.md, "Nested fields"). */

import { pathText, type FieldPath } from '../schemas/field-paths.ts';
import { closest, isObject, q, type Problems } from './definitions-problems.ts';

const ORDINALS = ['1st', '2nd', '3rd'];
const ordinal = (i: number): string => ORDINALS[i] ?? `${i + 1}th`;

/**
 * `paths`: field -> where nested objects carry it, a dotted text (`"user.id"`) or a list of keys
 * (`["meta", "a.b"]`: the only way to name a key holding a dot). Every problem names its place.
 */
export function parsePaths(
  p: Problems, path: string, value: unknown, declared: Record<string, unknown>, aliases: Readonly<Record<string, readonly string[]>> | undefined,
): Record<string, FieldPath> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    p.add(path, `expected an object of field name -> path, e.g. {"user_id": "user.id"}, got ${q(value)}`);
    return undefined;
  }
  // Built with defineProperty: a field named `__proto__` is a key like any other.
  const out: Record<string, FieldPath> = {};
  const owner = new Map<string, string>();
  const aliasNames = new Map(Object.entries(aliases ?? {}).flatMap(([field, names]) => names.map((n) => [n, field] as const)));
  for (const [field, spec] of Object.entries(value)) {
    const at = `${path}.${field}`;
    if (!Object.hasOwn(declared, field)) {
      const meant = closest(field, Object.keys(declared));
      p.add(at, `${q(field)} is not a field of the schema${meant === undefined ? '' : ` (did you mean ${q(meant)}?)`}`);
      continue;
    }
    const keys = typeof spec === 'string' ? spec.split('.') : spec;
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
      p.add(at, `expected a dotted path like "user.id", or a list of keys like ["meta", "a.b"] when a key holds a dot, got ${q(spec)}`);
      continue;
    }
    const list = keys as string[];
    const empty = list.findIndex((k) => k.length === 0);
    if (empty >= 0) {
      p.add(at, `${q(spec)} has an empty key (the ${ordinal(empty)}); write the keys from the event's top level inward, e.g. "user.id"`);
      continue;
    }
    if (list.length < 2) {
      p.add(at, `${q(spec)} is one key at the event's top level, no path: write it in "aliases": {${q(field)}: [${q(list[0] ?? '')}]}`);
      continue;
    }
    const first = list[0]!, text = JSON.stringify(list);
    // The first key holding an object for this field and a value for another would refuse one or the
    // other; the field's own name may (its value became an object: `"url": "url.path"`).
    if (Object.hasOwn(declared, first) && first !== field) p.add(at, `${pathText(list)} starts at ${q(first)}, a field of the schema: events cannot hold an object there and a value of ${q(first)}`);
    else if (aliasNames.has(first)) p.add(at, `${pathText(list)} starts at ${q(first)}, an alias of ${q(aliasNames.get(first))}: events cannot hold an object there and a value of it`);
    else if (owner.has(text)) p.add(at, `${pathText(list)} is already the path of ${q(owner.get(text))}; one value cannot fill two fields`);
    else {
      const clash = [...owner.keys()].find((other) => isPrefix(JSON.parse(other) as string[], list) || isPrefix(list, JSON.parse(other) as string[]));
      if (clash !== undefined) p.add(at, `${pathText(list)} and the path of ${q(owner.get(clash))}, ${pathText(JSON.parse(clash) as string[])}, need a value and an object at the same place`);
    }
    owner.set(text, field);
    Object.defineProperty(out, field, { value: list, enumerable: true, writable: true, configurable: true });
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

const isPrefix = (short: readonly string[], long: readonly string[]): boolean => short.length < long.length && short.every((k, i) => long[i] === k);
