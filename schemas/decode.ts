import { SchemaViolationError } from '../pipeline/errors.ts';
import { printable } from '../pipeline/printable.ts';
import { isoMillis } from '../pipeline/time.ts';
import type { TimeGuard } from '../pipeline/time-guard.ts';
import { RAW_PREFIX_BYTES, type LineProblem } from '../sources/line-limits.ts';
import { flatObjectReader } from './flat-json.ts';
import type { LineBatch } from '../sources/source.ts';
import type { DeadLetter, EventPosition } from './results.ts';
import { readField } from './field-paths.ts';
import { validateEvent, type AnyEvent, type EventSchema } from './schema.ts';
import { normaliseTimestamp } from './timestamps.ts';

export type Decoded = { ok: true; event: AnyEvent } | { ok: false; deadLetter: DeadLetter };

/**
 * Parses and validates one input line. Never throws for bad input: it returns a dead letter with the
 * reason, which quotes the line's data: printed (`first rejected: ...`), so made printable.
 */
export function decodeLine(schema: EventSchema, line: string, position: EventPosition): Decoded {
  let raw: unknown = parserOf(schema)(line);
  const flat = raw !== undefined;
  if (raw === undefined) {
    try {
      raw = JSON.parse(line);
    } catch (error) {
      const reason = printable(`malformed JSON: ${error instanceof Error ? error.message : String(error)}`);
      return { ok: false, deadLetter: { ...position, field: null, reason, raw: line } };
    }
  }
  try {
    return { ok: true, event: validateEvent(schema, raw) as AnyEvent };
  } catch (error) {
    if (!(error instanceof SchemaViolationError)) throw error;
    // The flat reader kept the schema's names only: the reason is rebuilt from the whole object, which
    // may name the key a missing field was renamed to (schemas/schema.ts, absentReason).
    const whole = flat ? JSON.parse(line) as unknown : raw;
    const violation = (flat ? violationOf(schema, whole) : undefined) ?? error;
    const eventTime = violation.field === schema.timeField ? undefined : timeOf(schema, whole);
    return { ok: false, deadLetter: { ...position, field: violation.field, reason: printable(violation.message), raw: line, ...(eventTime === undefined ? {} : { eventTime }) } };
  }
}

/** The time field of a refused object as the schema reads it (its own name, its aliases, its path); undefined when it does not read. */
function timeOf(schema: EventSchema, raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const name = schema.timeField;
  try {
    const value = readField(schema, raw as Record<string, unknown>, name);
    return value === undefined || value === null ? undefined : normaliseTimestamp(value, name, schema.epochUnit, schema.timeZone);
  } catch {
    return undefined;
  }
}

function violationOf(schema: EventSchema, raw: unknown): SchemaViolationError | undefined {
  try {
    validateEvent(schema, raw);
    return undefined;
  } catch (error) {
    return error instanceof SchemaViolationError ? error : undefined;
  }
}

type FlatParser = (line: string) => Record<string, unknown> | undefined;
const parsers = new WeakMap<EventSchema, FlatParser>();

/**
 * The schema's fields of a line read by its flat-object reader (schemas/flat-json.ts) into an object
 * literal of one shape, or undefined: then only `JSON.parse` reads the line.
 */
function parserOf(schema: EventSchema): FlatParser {
  let parser = parsers.get(schema);
  if (parser) return parser;
  // The other names of renamed fields (`aliases`) are read too, for the validator to fall back on, and
  // the first key of each path: a line this reader takes holds no object, so the path's first value is
  // absent, null or a scalar the validator refuses (an object makes the reader give way to JSON.parse).
  const firstKeys = Object.values(schema.paths ?? {}).map((path) => path[0]!);
  const names = [...new Set([...Object.keys(schema.fields), ...Object.values(schema.aliases ?? {}).flat(), ...firstKeys])];
  const read = flatObjectReader(names);
  if (!read) {
    parser = () => undefined;
  } else {
    // Names are embedded as JSON string literals (flatObjectReader refused the ones that would not be plain keys).
    const literal = new Function('v', `return { ${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')} };`) as (v: unknown[]) => Record<string, unknown>;
    parser = (line) => {
      const values = read(line);
      return values === undefined ? undefined : literal(values);
    };
  }
  parsers.set(schema, parser);
  return parser;
}

/**
 * A dead letter as written out. `raw` never echoes more than a bounded prefix of a hostile line
 * (`raw_truncated`, `raw_bytes` then say so); bytes that were not UTF-8 are base64 (`raw_encoding`).
 */
export function deadLetterToJson(d: DeadLetter, schema: string): Record<string, unknown> {
  // The event time too: a store sink reading the dead-letter topic files the verdict by it (raw may be cut).
  const reference = d.reference ? { reference: isoMillis(d.reference.at), reference_basis: d.reference.basis, detail: d.reference.detail, event_time: isoMillis(d.reference.eventTime) }
    : d.eventTime === undefined ? {} : { event_time: isoMillis(d.eventTime) };
  const cut = d.raw.length > RAW_PREFIX_BYTES;
  const raw = cut ? d.raw.slice(0, RAW_PREFIX_BYTES) : d.raw;
  const bytes = d.rawBytes ?? (cut ? Buffer.byteLength(d.raw) : undefined);
  return {
    schema, source: d.source, offset: d.offset, field: d.field, reason: d.reason, ...reference, raw,
    ...(d.rawEncoding ? { raw_encoding: d.rawEncoding } : {}), ...(bytes === undefined ? {} : { raw_truncated: true, raw_bytes: bytes }),
  };
}

export type Admitted = { ok: true; event: AnyEvent } | { ok: false; deadLetter: DeadLetter; quarantined: boolean };

/**
 * Line `i` of a batch through every gate before an operator or the archive sees it: bytes (not UTF-8,
 * over the line limit), JSON and schema, then the time quarantine. null: a blank line (skipped, counted
 * as a line only).
 */
export function admitLine(schema: EventSchema, guard: TimeGuard, batch: LineBatch, i: number, position: EventPosition): Admitted | null {
  return admit(schema, guard, batch.lines[i]!, batch.problems?.get(i), batch.ingestTimes?.[i], position);
}

/** `admitLine` for one record (a Kafka record: its value, problem and timestamp). */
export function admit(
  schema: EventSchema, guard: TimeGuard, line: string, problem: LineProblem | undefined, recordTime: number | undefined, position: EventPosition,
): Admitted | null {
  if (problem) return { ok: false, deadLetter: problemDeadLetter(problem, position), quarantined: false };
  // A byte-order mark (files saved by Windows editors) opens the first line: no part of the event.
  if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
  if (line.trim().length === 0) return null;
  const decoded = decodeLine(schema, line, position);
  if (!decoded.ok) return { ...decoded, quarantined: false };
  const held = quarantine(guard, schema, decoded.event, line, position, recordTime);
  return held ? { ok: false, deadLetter: held, quarantined: true } : decoded;
}

/** The dead letter of a line that never became text (sources/line-limits.ts). */
export function problemDeadLetter(problem: LineProblem, position: EventPosition): DeadLetter {
  const truncated = problem.encoding === 'base64' ? Buffer.from(problem.raw, 'base64').length < problem.bytes : Buffer.byteLength(problem.raw) < problem.bytes;
  return {
    ...position, field: null, reason: problem.reason, raw: problem.raw,
    ...(problem.encoding === 'base64' ? { rawEncoding: 'base64' as const } : {}), ...(truncated ? { rawBytes: problem.bytes } : {}),
  };
}

/**
 * Judges a decoded event's time (pipeline/time-guard.ts): null when accepted, else its dead letter
 * (reason `future_timestamp` or `past_horizon`, with the reference it met).
 */
export function quarantine(guard: TimeGuard, schema: EventSchema, event: AnyEvent, line: string, position: EventPosition, recordTime?: number): DeadLetter | null {
  const verdict = guard.judge(event[schema.timeField] as number, recordTime);
  if (verdict === null) return null;
  return { ...position, field: schema.timeField, reason: verdict.reason, raw: line, reference: { at: verdict.reference, basis: verdict.basis, detail: verdict.detail, eventTime: event[schema.timeField] as number } };
}
