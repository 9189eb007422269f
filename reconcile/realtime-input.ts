import { readFile } from 'node:fs/promises';
import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import { formatDuration } from '../pipeline/time.ts';
import { positionKey, type AlertResult, type KeyValues, type ResultRecord } from '../schemas/results.ts';
import { validateEvent, type AnyEvent, type EventSchema } from '../schemas/schema.ts';
import type { LoggedLate } from './reconcile.ts';
import type { StreamQuarantine } from './stream-quarantine.ts';

const parseTime = (v: unknown, what: string, where: number | string): number => {
  const ms = typeof v === 'number' ? v : Date.parse(String(v));
  if (!Number.isFinite(ms)) throw new ConfigError(`${typeof where === 'number' ? `realtime results line ${where}` : where}: ${what} "${String(v)}" is not a timestamp`);
  return ms;
};

const parseWatermark = (v: unknown): number | null =>
  v === null || v === undefined ? null : v === '+infinity' ? Infinity : v === '-infinity' ? -Infinity : Date.parse(String(v));

/**
 * Whether a row the workers wrote to Kafka (a result or a late event) is of another version of its
 * pipeline than `version`: another group ran a changed definition on the same topics, or another
 * deployment's definition shares the pipeline's name. A row without a version (late events written
 * before 2026-12-06 carry none) is taken as this version's.
 */
export function ofOtherVersion(row: Record<string, unknown>, version: string | undefined): boolean {
  return row.definition_version !== undefined && row.definition_version !== version;
}

/** Reads an OUT.jsonl (changelog or final rows) of one pipeline back into result records. */
export function parseResultLine(def: PipelineDefinition, row: Record<string, unknown>, line: number): ResultRecord | null {
  if (row.pipeline !== def.name) return null;
  const version = String(row.definition_version ?? definitionVersion(def));
  if (def.kind === 'windowed') {
    const key: KeyValues = {};
    for (const k of def.key) key[k] = (row[k] as string | number | boolean | null | undefined) ?? null;
    const values: Record<string, number | null> = {};
    for (const a of def.aggregates) values[a.output] = row[a.output] === null || row[a.output] === undefined ? null : Number(row[a.output]);
    return {
      kind: 'window', pipeline: def.name, key, values,
      windowStart: parseTime(row.window_start, 'window_start', line),
      windowEnd: parseTime(row.window_end, 'window_end', line),
      revision: Number(row.revision ?? 0), watermark: parseWatermark(row.watermark), definitionVersion: version,
    };
  }
  const idField = def.schema.idField;
  return {
    kind: 'alert', pipeline: def.name, key: { [def.key]: (row[def.key] as string | number | boolean | null | undefined) ?? null }, idField, id: String(row[idField]),
    ts: parseTime(row.ts, 'ts', line), output: def.rule.output,
    value: (row[def.rule.output] as AlertResult['value'] | undefined) ?? [],
    late: row.late === true, watermark: parseWatermark(row.watermark), definitionVersion: version,
  };
}

/**
 * Reads the pipeline's rows of a results file. A file whose rows are all another pipeline's is the
 * wrong file (or the wrong --pipeline): every replayed cell would read as a missing window.
 */
export async function readResultsFile(def: PipelineDefinition, path: string): Promise<ResultRecord[]> {
  const out: ResultRecord[] = [];
  const others = new Set<string>();
  await eachJsonRow(path, 'realtime results', (row, line) => {
    const r = parseResultLine(def, row, line);
    if (r) out.push(r);
    else others.add(String(row.pipeline));
  });
  if (out.length === 0 && others.size > 0) {
    const held = [...others].sort();
    throw new ConfigError(`realtime results ${path} hold no row of pipeline ${def.name}, only of ${held.join(', ')}: pass ${def.name}'s output, or --pipeline ${shellWord(held[0]!)}`);
  }
  return out;
}

/**
 * Realtime rows computed by another definition version than `def` (another definition, or the same one
 * with other B / L) cannot be reconciled against it: every late event would be judged by other rules
 * and the differences read as unexplained. Refused as the user's error, as `reconcile --date` refuses a
 * day stored under another version.
 */
export function checkRealtimeVersion(def: PipelineDefinition, rows: readonly ResultRecord[], path: string): void {
  const given = definitionVersion(def);
  const others = new Map<string, number>();
  for (const r of rows) if (r.definitionVersion !== given) others.set(r.definitionVersion, (others.get(r.definitionVersion) ?? 0) + 1);
  if (others.size === 0) return;
  const versions = [...others].map(([v, n]) => `${v} (${n} of ${rows.length} rows)`).join(', ');
  throw new ConfigError(
    `realtime results ${path}: computed by definition version ${versions} of ${def.name}, but these definitions give ${given} ` +
      `(B = ${formatDuration(def.watermark.maxOutOfOrderness)}, L = ${formatDuration(def.allowedLateness)}): reconcile compares results with ` +
      `the definition that computed them. Pass the definitions file and the --max-out-of-orderness / --allowed-lateness the stream ran with, ` +
      `or stream the input again under these definitions`,
  );
}

/** Each non-blank line of a JSON-lines file as an object, with its line number; a user's error for an unreadable file or line. */
async function eachJsonRow(path: string, what: string, each: (row: Record<string, unknown>, line: number) => void): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}: check the path`, { cause: error });
  }
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`${what} ${path} line ${i + 1} is not JSON`, { cause: error });
    }
    each(row, i + 1);
  });
}

/** One late-event row as workers write it (`concord.late`); null for another pipeline. */
const relaxed = new WeakMap<EventSchema, EventSchema>();
/** `schema` with every field optional: a merge stage's late record holds only the fields its rule reads. */
function fieldsOptional(schema: EventSchema): EventSchema {
  let out = relaxed.get(schema);
  if (!out) relaxed.set(schema, (out = { ...schema, fields: Object.fromEntries(Object.entries(schema.fields).map(([k, f]) => [k, { ...f, required: false }])) }));
  return out;
}

export function parseLateRow(def: PipelineDefinition, row: Record<string, unknown>, where: string): LoggedLate | null {
  if (row.pipeline !== def.name) return null;
  // Written like the input (ISO time, decimals in major units): normalised back by the schema.
  let event: AnyEvent;
  try {
    // A merge stage's record holds the fields the pipeline reads only (stream/out-of-order-log.ts).
    event = validateEvent(row.decided_after_wakeup === undefined ? def.schema : fieldsOptional(def.schema), row.event);
  } catch (error) {
    throw new ConfigError(`late events ${where}: the event does not fit schema ${def.schema.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (typeof row.source !== 'string' || typeof row.offset !== 'number') {
    // `stream --late-output` (files) writes no delivery position: a file's lateness reconcile simulates itself.
    throw new ConfigError(`late events ${where}: no source/offset, so not a worker's late log (\`concord results --late-output\` exports it); for \`concord stream\` over a file, drop --late: reconcile re-runs the file's arrival order itself`);
  }
  const woke = row.decided_after_wakeup as { at?: unknown; order?: unknown } | undefined;
  if (woke !== undefined && (typeof woke !== 'object' || woke === null || typeof woke.order !== 'number' || parseWatermark(woke.at) === null || Number.isNaN(parseWatermark(woke.at)))) {
    throw new ConfigError(`late events ${where}: decided_after_wakeup is not { at: W, order: N }`);
  }
  return {
    evaluatedOnArrival: row.evaluated_on_arrival === true,
    ...(woke ? { decidedAfterWakeup: { at: parseWatermark(woke.at)!, order: woke.order as number } } : {}),
    record: {
      pipeline: def.name,
      event,
      position: { source: row.source, offset: row.offset },
      watermark: parseWatermark(row.watermark) ?? Number.NEGATIVE_INFINITY,
      ...(row.window_start === undefined ? {} : { windowStart: parseTime(row.window_start, 'window_start', where), windowEnd: parseTime(row.window_end, 'window_end', where) }),
    },
  };
}

/** Reads late events recorded by workers (`concord results --late-output`) for one pipeline. */
export async function readLateLog(def: PipelineDefinition, path: string): Promise<LoggedLate[]> {
  const out: LoggedLate[] = [];
  await eachJsonRow(path, 'late events', (row, line) => {
    const late = parseLateRow(def, row, `${path} line ${line}`);
    if (late) out.push(late);
  });
  // A merge stage's record of an event fed out of the canonical order stands for it (the store keeps it
  // over the worker's record of the same position: store/dirty-cells.ts).
  const at = (l: LoggedLate) => positionKey(l.record.position);
  const woke = new Set(out.filter((l) => l.decidedAfterWakeup !== undefined).map(at));
  return woke.size === 0 ? out : out.filter((l) => l.decidedAfterWakeup !== undefined || !woke.has(at(l)));
}

/**
 * The stream's verdicts from its dead letters (`concord stream --dead-letter`): the rows of `def`'s input
 * schema. `future_timestamp` / `past_horizon` are verdicts on a time; the others (`rejected`) are the
 * stream's refusals of a line's bytes or fields, evidence only where the archive kept the event: judged
 * by other definitions (an alias added, a field made optional) or another release. Before 2026-12-07
 * only `future_timestamp` was read, and such a cell was `unexplained`.
 */
export async function readStreamQuarantine(def: PipelineDefinition, path: string): Promise<StreamQuarantine[]> {
  const out: StreamQuarantine[] = [];
  await eachJsonRow(path, 'dead letters', (row, line) => {
    if (typeof row.reason !== 'string' || (row.schema !== undefined && row.schema !== def.schema.name)) return;
    if (typeof row.source !== 'string' || typeof row.offset !== 'number') {
      throw new ConfigError(`dead letters ${path} line ${line}: no source/offset, so not a dead letter \`concord stream --dead-letter\` wrote`);
    }
    const reference = Date.parse(String(row.reference)), eventTime = Date.parse(String(row.event_time));
    const time = row.reason === 'future_timestamp' || row.reason === 'past_horizon';
    out.push({
      position: { source: row.source, offset: row.offset }, ...(time ? {} : { rejected: row.reason }),
      ...(Number.isFinite(reference) ? { reference } : {}), ...(Number.isFinite(eventTime) ? { eventTime } : {}),
    });
  });
  return out;
}
