/** Shared by the definitions-file parsers: quoting for messages, the object test, and problem collection. */

import { aliasesOf, type EventSchema, type FieldDef } from '../schemas/schema.ts';
import { dottedPath } from '../schemas/field-paths.ts';
import { durationHint, parseDuration, type Millis } from './time.ts';

/**
 * A value quoted for a message, as JSON. A module's values need not be JSON: a BigInt (`5n`) made
 * JSON.stringify throw (a stack trace instead of the list of problems), a function or `undefined` read
 * as "undefined".
 */
export const q = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return String(v);
  return JSON.stringify(v, (_key, x: unknown) => (typeof x === 'bigint' ? `${x}n (a BigInt)` : x)) ?? String(v);
};
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects problems, each scoped to its place (a path like `pipelines.p.aggregates.revenue`). */
export class Problems {
  readonly list: string[] = [];
  private readonly places: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
    this.places.push(path);
  }
  /** Whether a problem was found at `path` or inside it. */
  reported(path: string): boolean {
    return this.places.some((at) => at === path || at.startsWith(`${path}.`) || at.startsWith(`${path}[`));
  }
  /**
   * `schema`'s field `name`, or undefined with the problem `message` — none when the field is declared
   * but its declaration has a problem of its own (one mistake, one line: not again at every use).
   */
  field(path: string, schema: EventSchema, name: unknown, message: string): FieldDef | undefined {
    const def = typeof name === 'string' && Object.hasOwn(schema.fields, name) ? schema.fields[name] : undefined;
    if (!def && !(typeof name === 'string' && this.reported(`schemas.${schema.name}.fields.${name}`))) this.add(path, message + fieldHint(schema, name, this.badFields(schema)));
    return def;
  }
  /** The fields of `schema` declared with a problem of their own (an unknown type): no field of the schema, still names a user means. */
  private badFields(schema: EventSchema): string[] {
    const prefix = `schemas.${schema.name}.fields.`;
    return this.places.filter((at) => at.startsWith(prefix)).map((at) => at.slice(prefix.length));
  }
  /** Unknown keys are mistakes (a typo would silently mean a default): the likely one is named. */
  keys(path: string, value: Record<string, unknown>, allowed: readonly string[]): void {
    for (const k of Object.keys(value)) {
      if (allowed.includes(k)) continue;
      const meant = closest(k, allowed.filter((a) => !Object.hasOwn(value, a)));
      this.add(path, `unknown key ${q(k)}${meant === undefined ? '' : ` (did you mean ${q(meant)}?)`}; expected one of ${allowed.join(', ')}`);
    }
  }
  duration(path: string, value: unknown, positive: boolean): Millis | undefined {
    if (value === undefined) {
      this.add(path, 'required: a duration like "30s", "10m", "1h" or integer milliseconds');
      return undefined;
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.add(path, `expected a duration like "30s", "10m", "1h" or integer milliseconds, got ${q(value)}`);
      return undefined;
    }
    try {
      const ms = parseDuration(String(value), 'duration');
      if (positive && ms <= 0) {
        this.add(path, `must be longer than 0, got ${q(value)}`);
        return undefined;
      }
      return ms;
    } catch {
      this.add(path, `${q(value)} is not a duration${durationHint(String(value))}; use an integer with ms|s|m|h|d, e.g. "30s", "5m", "1d"`);
      return undefined;
    }
  }
}

/**
 * Which field a name that is none likely means: a field's nested path or alias (a pipeline names the
 * flat field, `path`, never where events carry it, `request.path`), or a slip of a field's name.
 */
function fieldHint(schema: EventSchema, name: unknown, badFields: readonly string[]): string {
  if (typeof name !== 'string') return '';
  const fields = [...Object.keys(schema.fields), ...badFields.filter((f) => !Object.hasOwn(schema.fields, f))];
  const atPath = fields.find((f) => schema.paths !== undefined && Object.hasOwn(schema.paths, f) && dottedPath(schema.paths[f]!) === name);
  if (atPath !== undefined) return ` (it is where events carry field ${q(atPath)}, by the schema's "paths": name the field, ${q(atPath)})`;
  const aliasOf = fields.find((f) => aliasesOf(schema.aliases, f).includes(name));
  if (aliasOf !== undefined) return ` (it is an alias of field ${q(aliasOf)}: name the field, ${q(aliasOf)})`;
  // A slip of the name, else a shortening of one field's (`temp` for `temperature`, `hum` for `humidity`).
  const shortened = name.length >= 3 ? fields.filter((f) => f.toLowerCase().startsWith(name.toLowerCase())) : [];
  const meant = closest(name, fields) ?? (shortened.length === 1 ? shortened[0] : undefined);
  return meant === undefined ? '' : ` (did you mean ${q(meant)}?)`;
}

/**
 * The one candidate nearest to `word` when `word` is a slip of it (at most two edits: a letter left
 * out, added, changed, or two swapped; at most a third of the word); undefined when none is that near
 * or two are equally near.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(2, Math.floor(word.length / 3));
  const scored = candidates.map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) })).filter((x) => x.d <= limit);
  const best = Math.min(...scored.map((x) => x.d));
  const nearest = scored.filter((x) => x.d === best);
  return nearest.length === 1 ? nearest[0]!.c : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
