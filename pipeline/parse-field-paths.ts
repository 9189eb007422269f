/** Checks a schema's `paths` entry of a definitions file (docs/definitions.md, "Nested fields"). */

import { pathText, type FieldPath, type PathStep } from '../schemas/field-paths.ts';
import { closest, isObject, q, type Problems } from './definitions-problems.ts';

const ORDINALS = ['1st', '2nd', '3rd'];
const ordinal = (i: number): string => ORDINALS[i] ?? `${i + 1}th`;

const INDEX_FORMS = 'a whole number: [0] the first element, [1] the second, [-1] the last';

/**
 * The steps of a text path (`"items[0].price"`, `"coords[-1]"`, `"a[0][1]"`), or why it is none. Keys
 * are split at dots and brackets; an index is an integer, negative from the end as Flink's JSON_VALUE
 * (Jayway JsonPath) reads `$.items[-1]`.
 */
export function parsePathText(text: string): { steps: PathStep[] } | { problem: string } {
  const steps: PathStep[] = [];
  const bad = (why: string) => ({ problem: `${q(text)} ${why}` });
  let i = 0;
  for (;;) {
    // A key, up to the next dot or bracket.
    let end = i;
    while (end < text.length && text[end] !== '.' && text[end] !== '[' && text[end] !== ']') end++;
    const key = text.slice(i, end);
    if (key === '') {
      if (steps.length === 0 && text[end] === '[') return bad(`starts at an array index; an event is an object: start at its key, e.g. "items[0]"`);
      return bad(`has an empty key (the ${ordinal(steps.length)}); write the keys from the event's top level inward, e.g. "user.id"`);
    }
    steps.push(key);
    i = end;
    // Indexes after the key: `[0]`, `[-1]`, `[0][1]`.
    while (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) return bad(`has a "[" without its "]" (the ${ordinal(steps.length)} step); an index is ${INDEX_FORMS}`);
      const inner = text.slice(i + 1, close);
      const index = indexOf(inner);
      if (typeof index === 'string') return bad(`has ${q(`[${inner}]`)} where an array index belongs (the ${ordinal(steps.length)} step): ${index}`);
      steps.push(index);
      i = close + 1;
    }
    if (i === text.length) return { steps };
    if (text[i] === ']') return bad(`has a "]" without its "[" (the ${ordinal(steps.length)} step)`);
    if (text[i] !== '.') return bad(`has ${q(text.slice(i))} after ${q(text.slice(0, i))}; a key inside an element follows a dot, e.g. "items[0].sku"`);
    i++;
  }
}

/** An index written between brackets, or what is wrong with it. */
function indexOf(inner: string): number | string {
  if (/^(?:0|-?[1-9]\d*)$/.test(inner)) {
    const n = Number(inner);
    return Number.isSafeInteger(n) ? n : `${inner} is too large for an index`;
  }
  if (inner === '-0') return `-0 is no index; ${INDEX_FORMS}`;
  if (inner === '*' || inner === '') return `a path leads to one value, not every element; write ${INDEX_FORMS}`;
  if (inner === 'last' || inner === '#-1') return `write [-1] for the last element`;
  return `write ${INDEX_FORMS} (a key holding "[" is written in the list form, e.g. ["meta", "a[x]"])`;
}

/** A step of the list form: a key (a string, taken as it is) or an index (an integer), or what is wrong with it. */
function listStepProblem(step: unknown, i: number): string | undefined {
  if (typeof step === 'string') return step.length === 0 ? `has an empty key (the ${ordinal(i)})` : undefined;
  if (typeof step !== 'number') return `has ${q(step)} as its ${ordinal(i)} step: a key is a string, an array index a number`;
  if (i === 0) return `starts at an array index; an event is an object: start at its key, e.g. ["items", 0]`;
  if (!Number.isSafeInteger(step) || Object.is(step, -0)) return `has ${q(step)} as its ${ordinal(i)} step, no array index: write ${INDEX_FORMS}`;
  return undefined;
}

/**
 * `paths`: field -> where nested objects and arrays carry it, a text (`"user.id"`, `"items[0].price"`)
 * or a list of steps (`["meta", "a.b"]`, `["items", 0, "price"]`: the only way to name a key holding a
 * dot or a bracket). Every problem names its place.
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
    let list: PathStep[];
    if (typeof spec === 'string') {
      const parsed = parsePathText(spec);
      if ('problem' in parsed) {
        p.add(at, parsed.problem);
        continue;
      }
      list = parsed.steps;
    } else if (Array.isArray(spec)) {
      const problem = spec.map((step, i) => listStepProblem(step, i)).find((x) => x !== undefined);
      if (problem !== undefined) {
        p.add(at, `${q(spec)} ${problem}${problem.startsWith('has an empty key') ? '; write the keys from the event\'s top level inward, e.g. "user.id"' : ''}`);
        continue;
      }
      list = spec as PathStep[];
    } else {
      p.add(at, `expected a path like "user.id" or "items[0].sku", or a list of steps like ["meta", "a.b"] (when a key holds a dot) or ["items", 0, "sku"], got ${q(spec)}`);
      continue;
    }
    if (list.length < 2) {
      p.add(at, `${q(spec)} is one key at the event's top level, no path: write it in "aliases": {${q(field)}: [${q(list[0] ?? '')}]}`);
      continue;
    }
    const first = list[0] as string, text = JSON.stringify(list);
    // The first key holding an object for this field and a value for another would refuse one or the
    // other; the field's own name may (its value became an object: `"url": "url.path"`).
    if (Object.hasOwn(declared, first) && first !== field) p.add(at, `${pathText(list)} starts at ${q(first)}, a field of the schema: events cannot hold an object there and a value of ${q(first)}`);
    else if (aliasNames.has(first)) p.add(at, `${pathText(list)} starts at ${q(first)}, an alias of ${q(aliasNames.get(first))}: events cannot hold an object there and a value of it`);
    else if (owner.has(text)) p.add(at, `${pathText(list)} is already the path of ${q(owner.get(text))}; one value cannot fill two fields`);
    else {
      const clash = [...owner.keys()].map((other) => ({ other, need: clashOf(JSON.parse(other) as PathStep[], list) })).find((c) => c.need !== undefined);
      if (clash !== undefined) p.add(at, `${pathText(list)} and the path of ${q(owner.get(clash.other))}, ${pathText(JSON.parse(clash.other) as PathStep[])}, need ${clash.need} at the same place`);
    }
    owner.set(text, field);
    Object.defineProperty(out, field, { value: list as unknown as FieldPath, enumerable: true, writable: true, configurable: true });
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * What two paths need at one place when no event can give both: a value and an object or array (one
 * path inside the other, `"a.b"` and `"a.b.c"`), or an object and an array (`"items.sku"` and
 * `"items[0]"`). undefined when they part at two keys or two indexes (`"items[0]"` and `"items[-1]"`
 * may meet in a one-element array: both then read the one value, as they should).
 */
function clashOf(a: readonly PathStep[], b: readonly PathStep[]): string | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    return typeof a[i] === typeof b[i] ? undefined : 'an object and an array';
  }
  return a.length === b.length ? undefined : `a value and ${typeof (a.length > n ? a : b)[n] === 'number' ? 'an array' : 'an object'}`;
}
