import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { readArchiveRecovering } from '../batch/archive-recovery.ts';
import { archiveFilesOfEventTimes, archiveHasEventTimes } from '../batch/archive-layout.ts';
import { DuckDb, quoteIdent, quoteString } from '../batch/duckdb.ts';
import { tolerantScan } from '../batch/archive-columns.ts';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { keyValuesOf, type KeyValues } from '../pipeline/keys.ts';
import { assignWindows, lastWindowEndBefore } from '../pipeline/windows.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { dayRange } from './day-range.ts';
import { ruleArchiveChangedSince } from './rule-archive-changes.ts';

/** A cell of a day that archive content touches. */
export interface ArchiveCell {
  day: string;
  /** Window start (rule pipelines: the day's start, with `key` the rule key whose alerts are redone). */
  windowStart: number;
  key: KeyValues;
}

export interface ArchiveChanges {
  /** Archive files of the day written after `since` (modification time, epoch ms). */
  files: string[];
  /** The day's cells the events of those files fall into (each once). */
  cells: ArchiveCell[];
  /** When the archive was listed: the next check starts here. */
  listedAt: number;
}

/**
 * The event times whose events can change a cell of the day: a window that starts in the day ends up to
 * a window's size after midnight (6 h hopping windows: into the next day's hour 05). Rules: the day and
 * the two spans before it, the times decided by listing alone (an alert of the day depends on its key's
 * events up to `span` before it and on its predecessor's status, which counts the predecessor's own span);
 * a key quiet for longer reaches further back, to its own last event's span (rule-day-reach.ts), which
 * the rule paths find by reading (rule-archive-changes.ts, planRuleDay).
 */
export function eventTimesOfDay(def: PipelineDefinition, day: string): { from: number; to: number } {
  const range = dayRange(day);
  if (def.kind === 'rule') return { from: range.from - 2 * def.rule.span, to: range.to };
  return { from: range.from, to: lastWindowEndBefore(def.window, range.to) };
}

/**
 * True if the archive holds events that can make a cell of `day` (an event-time hour partition with a
 * Parquet file): what `reconcile --date` asks before replaying a day. Windows: the hours of
 * `eventTimesOfDay` (hopping windows starting 23:50 hold only events of the next day); rules: the day's
 * own hours (an alert is raised at one of the day's events; the span before only adds to it, and an
 * archive holding only the evening before has none of the day's alerts).
 */
export async function archiveHoldsDay(def: PipelineDefinition, archiveDir: string, day: string): Promise<boolean> {
  return archiveHasEventTimes(archiveDir, def.schema, def.kind === 'rule' ? dayRange(day) : eventTimesOfDay(def, day));
}

/**
 * The archive files that may hold events of `day`'s cells (the event-time partitions `eventTimesOfDay`
 * overlaps), written after `since` (epoch ms), sorted by path.
 * Cheap (a listing and a stat per file): what deciding whether a day needs a backfill reads. Rules:
 * the files of their two spans only; older ones that reach the day are `ruleArchiveChangedSince`'s.
 */
export async function archiveFilesWrittenSince(def: PipelineDefinition, archiveDir: string, day: string, since: number): Promise<{ path: string; mtimeMs: number }[]> {
  const files: { path: string; mtimeMs: number }[] = [];
  for (const path of await archiveFilesOfEventTimes(archiveDir, def.schema, eventTimesOfDay(def, day))) {
    const s = await stat(path).catch(() => undefined);
    if (s && s.mtimeMs > since) files.push({ path, mtimeMs: s.mtimeMs });
  }
  return files;
}

/**
 * Archive content added to a day after `since` (e.g. the day's last reconcile): the Parquet files of the
 * day written later (files are written whole, temp then rename, and never rewritten in place, so a
 * file's modification time says when its events reached the archive), and the cells of `def` their
 * events fall into. Rule pipelines: a touched key's alerts of the day (an alert depends on its key's
 * earlier events), from files of any time before the day that reach it (rule-archive-changes.ts).
 * Events a `where` filter drops mark cells that a recompute finds unchanged.
 *
 * The nightly job calls this (or `detectArchiveChanges` in reconcile/backfill-day.ts, which also marks
 * the cells dirty in the store) before backfilling a reconciled day.
 */
export async function archiveChangedSince(def: PipelineDefinition, archiveDir: string, day: string, since: number): Promise<ArchiveChanges> {
  const range = dayRange(day);
  const listedAt = Date.now();
  const near = await archiveFilesWrittenSince(def, archiveDir, day, since);
  if (def.kind === 'rule') {
    // Older files too: a key quiet for more than a span before midnight (rule-archive-changes.ts).
    const changes = await ruleArchiveChangedSince(def, archiveDir, day, since, near);
    return { files: changes.written.map((f) => f.path), cells: changes.cells.sort((a, b) => a.windowStart - b.windowStart), listedAt };
  }
  const files = near.map((f) => f.path);
  if (files.length === 0) return { files, cells: [], listedAt };
  const keyFields = def.key;
  const names = [...new Set([def.schema.timeField, ...keyFields])];
  const select = names.map((n) => (def.schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)}) AS ${quoteIdent(n)}` : quoteIdent(n)));
  const db = await DuckDb.open(':memory:', { threads: 1 });
  let cols: Record<string, unknown[]>;
  try {
    // A torn file among them is moved to _corrupt/ (where the publish that follows finds and names it), not a failed read.
    cols = await readArchiveRecovering(def, archiveDir, async () => {
      const left = files.filter((f) => existsSync(f));
      // Its own union_by_name read of a few files: optional fields no file has bind too (archive-columns.ts).
      return left.length === 0 ? {} : db.columns(`SELECT DISTINCT ${select.join(', ')} FROM ${tolerantScan(`[${left.map(quoteString).join(', ')}]`, def.schema)}`);
    }, { db, files });
  } finally {
    db.close();
  }
  const cells = new Map<string, ArchiveCell>();
  const n = cols[def.schema.timeField]?.length ?? 0;
  for (let r = 0; r < n; r++) {
    const event: AnyEvent = {};
    for (const name of names) {
      const v = cols[name]![r];
      if (v !== null && v !== undefined) event[name] = typeof v === 'bigint' ? Number(v) : (v as string | number);
    }
    const ts = event[def.schema.timeField] as number;
    const key = keyValuesOf(def.schema, keyFields, event);
    for (const windowStart of assignWindows(def.window, ts)) {
      if (windowStart < range.from || windowStart >= range.to) continue;
      const id = `${windowStart}\u0000${JSON.stringify(Object.values(key))}`;
      if (!cells.has(id)) cells.set(id, { day, windowStart, key });
    }
  }
  return { files, cells: [...cells.values()].sort((a, b) => a.windowStart - b.windowStart), listedAt };
}
