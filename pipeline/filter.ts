import { presentValue, type AnyEvent, type EventSchema, type FieldValue } from '../schemas/schema.ts';

/**
 * A pipeline's `where`: an AND of conditions over normalised event fields, as plain data. Values are
 * held normalised like events (decimals as minor units, timestamps as epoch ms), so one comparison
 * serves the stream and, lowered to SQL, the replay. A comparison with an absent (null) field is false,
 * as in SQL; only `is null` sees it.
 */
export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type Condition =
  | { readonly field: string; readonly op: ComparisonOp; readonly value: FieldValue }
  | { readonly field: string; readonly op: 'in' | 'not in'; readonly value: readonly FieldValue[] }
  | { readonly field: string; readonly op: 'is null' | 'is not null' };

/**
 * A condition as a definitions file writes it (decimals in major units, timestamps as ISO text), for
 * what users read (`explain`, `/api/pipelines`): the held form is minor units and epoch ms.
 */
export function presentCondition(schema: EventSchema, c: Condition): Condition {
  const field = schema.fields[c.field];
  const show = (v: FieldValue): FieldValue => (field?.kind === 'timestamp' && typeof v === 'number' ? new Date(v).toISOString() : presentValue(field, v));
  switch (c.op) {
    case 'in':
    case 'not in':
      return { ...c, value: c.value.map(show) };
    case 'is null':
    case 'is not null':
      return c;
    default:
      return { ...c, value: show(c.value) };
  }
}

export const COMPARISON_OPS: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];
export const ORDERING_OPS: readonly string[] = ['<', '<=', '>', '>='];
export const LIST_OPS: readonly string[] = ['in', 'not in'];
export const NULL_OPS: readonly string[] = ['is null', 'is not null'];

function test(c: Condition, v: FieldValue | undefined): boolean {
  switch (c.op) {
    case 'is null':
      return v === undefined;
    case 'is not null':
      return v !== undefined;
    case 'in':
      return v !== undefined && c.value.includes(v);
    case 'not in':
      return v !== undefined && !c.value.includes(v);
  }
  if (v === undefined) return false;
  switch (c.op) {
    case '=':
      return v === c.value;
    case '!=':
      return v !== c.value;
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
  }
}

/** The stream's predicate; `undefined` when there is no condition (every event is kept). */
export function compileFilter(where: readonly Condition[]): ((event: AnyEvent) => boolean) | undefined {
  if (where.length === 0) return undefined;
  return (event) => {
    for (const c of where) if (!test(c, event[c.field])) return false;
    return true;
  };
}

/**
 * The replay's predicate, as SQL over archive columns: `column(field)` gives a field's expression (e.g.
 * `epoch_ms("ts")` for timestamps), `literal(value)` a quoted constant. SQL's three-valued logic gives
 * the same answer for nulls as `compileFilter` (NULL compared is not true).
 */
export function filterSql(where: readonly Condition[], column: (field: string) => string, literal: (value: FieldValue) => string): string {
  if (where.length === 0) return 'true';
  return where.map((c) => {
    const col = column(c.field);
    switch (c.op) {
      case 'is null':
        return `(${col} IS NULL)`;
      case 'is not null':
        return `(${col} IS NOT NULL)`;
      case 'in':
      case 'not in':
        // An empty list: `in` keeps nothing, `not in` keeps every non-null value.
        if (c.value.length === 0) return c.op === 'in' ? 'false' : `(${col} IS NOT NULL)`;
        return `(${col} ${c.op === 'in' ? 'IN' : 'NOT IN'} (${c.value.map(literal).join(', ')}))`;
      default:
        return `(${col} ${c.op === '!=' ? '<>' : c.op} ${literal(c.value)})`;
    }
  }).join(' AND ');
}
