import { SchemaViolationError } from '../pipeline/errors.ts';
import type { DeadLetter, EventPosition } from './results.ts';
import { validateEvent, type AnyEvent, type EventSchema } from './schema.ts';

export type Decoded = { ok: true; event: AnyEvent } | { ok: false; deadLetter: DeadLetter };

/** Parses and validates one input line. Never throws for bad input: it returns a dead letter with the reason. */
export function decodeLine(schema: EventSchema, line: string, position: EventPosition): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (error) {
    const reason = `malformed JSON: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, deadLetter: { ...position, field: null, reason, raw: line } };
  }
  try {
    return { ok: true, event: validateEvent(schema, raw) as AnyEvent };
  } catch (error) {
    if (error instanceof SchemaViolationError) {
      return { ok: false, deadLetter: { ...position, field: error.field, reason: error.message, raw: line } };
    }
    throw error;
  }
}

export function deadLetterToJson(d: DeadLetter, schema: string): Record<string, unknown> {
  return { schema, source: d.source, offset: d.offset, field: d.field, reason: d.reason, raw: d.raw };
}
