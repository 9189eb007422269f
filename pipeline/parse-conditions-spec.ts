/** Checks a pipeline's `where` list against its input schema; constants are normalised to the field's type. */

import { fieldTypeName, isNumericKind, normaliseValue, type EventSchema, type FieldValue } from '../schemas/schema.ts';
import { normaliseTimestamp } from '../schemas/timestamps.ts';
import { q, type Problems } from './definitions-problems.ts';
import { ConcordError } from './errors.ts';
import { COMPARISON_OPS, LIST_OPS, NULL_OPS, ORDERING_OPS, type Condition } from './filter.ts';

export function parseConditions(p: Problems, path: string, where: unknown, schema: EventSchema): Condition[] {
  if (where === undefined) return [];
  if (!Array.isArray(where)) {
    p.add(path, `expected a list of [field, op, value] conditions, got ${q(where)}`);
    return [];
  }
  const out: Condition[] = [];
  where.forEach((c: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!Array.isArray(c) || c.length < 2 || c.length > 3 || typeof c[0] !== 'string' || typeof c[1] !== 'string') {
      p.add(at, `expected [field, op, value] or [field, "is null" | "is not null"], got ${q(c)}`);
      return;
    }
    const [field, op, value] = c as [string, string, unknown];
    const def = p.field(at, schema, field, `${q(field)} is not a field of schema ${q(schema.name)}`);
    if (!def) return;
    if (NULL_OPS.includes(op)) {
      if (c.length === 3) p.add(at, `${q(op)} takes no value`);
      else out.push({ field, op: op as 'is null' | 'is not null' });
      return;
    }
    if (!COMPARISON_OPS.includes(op) && !LIST_OPS.includes(op)) {
      p.add(at, `unknown operator ${q(op)}; use =, !=, <, <=, >, >=, in, not in, is null, is not null`);
      return;
    }
    if (c.length !== 3) {
      p.add(at, `${q(op)} needs a value`);
      return;
    }
    if (ORDERING_OPS.includes(op) && !isNumericKind(def.kind) && def.kind !== 'timestamp') {
      p.add(at, `${q(op)} compares numbers and timestamps only; ${q(field)} is ${fieldTypeName(def)}`);
      return;
    }
    const constant = (v: unknown): FieldValue | undefined => {
      if (v === null) {
        p.add(at, `compare with null using "is null" / "is not null"`);
        return undefined;
      }
      try {
        return normaliseValue(def, v, field, undefined, schema.timeZone);
      } catch (error) {
        if (!zoneReported(p, schema, def.kind, v)) p.add(at, `value ${q(v)} does not fit ${q(field)} (${fieldTypeName(def)}): ${error instanceof ConcordError ? error.message : String(error)}`);
        return undefined;
      }
    };
    if (LIST_OPS.includes(op)) {
      if (!Array.isArray(value)) {
        p.add(at, `${q(op)} needs a list of values, got ${q(value)}`);
        return;
      }
      const values = value.map(constant);
      if (values.every((v) => v !== undefined)) out.push({ field, op: op as 'in' | 'not in', value: values as FieldValue[] });
      return;
    }
    const v = constant(value);
    if (v !== undefined) out.push({ field, op: op as Condition['op'] & ('=' | '!=' | '<' | '<=' | '>' | '>='), value: v });
  });
  return out;
}

/**
 * A time without a zone refused only because the schema's `time_zone` is itself a listed problem (an
 * unknown zone): that line says what to fix; "add time_zone" here too would send the user after a key
 * the file already has.
 */
function zoneReported(p: Problems, schema: EventSchema, kind: string, value: unknown): boolean {
  if (kind !== 'timestamp' || schema.timeZone !== undefined || !p.reported(`schemas.${schema.name}.time_zone`)) return false;
  try {
    normaliseTimestamp(value, 'value', 'ms', 'UTC');
    return true;
  } catch {
    return false;
  }
}
