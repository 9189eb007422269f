import { archiveFilesOfEventTimes } from '../batch/archive-layout.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { replay } from '../batch/replay.ts';
import type { WindowCell } from '../batch/replay-cells.ts';
import { corruptFilesIn, CorruptArchiveDayError } from '../batch/archive-check.ts';
import { mergeRanges, type TimeRange } from '../batch/time-ranges-sql.ts';
import { definitionVersion, type PipelineDefinition, type WindowedPipeline } from '../pipeline/definition.ts';
import { paneId } from '../pipeline/keys.ts';
import { shellWord } from '../pipeline/names.ts';
import { cellKey, type ResultRecord, type WindowResult } from '../schemas/results.ts';
import { archiveChangedSince, archiveHoldsDay, eventTimesOfDay } from './archive-changes.ts';
import { noArchivedDay } from './no-archived-day.ts';
import { replayRuleDay } from './rule-day-replay.ts';
import { dayRange } from './day-range.ts';
import { DefinitionChangedError, type Progress, type ReconcileStore } from './reconcile-day.ts';

export interface BackfillRequest {
  readonly def: PipelineDefinition;
  readonly date: string;
  readonly store: ReconcileStore;
  readonly archiveDir: string;
  readonly jobId: string;
  readonly progress?: Progress;
  /** The definitions file's own version of the pipeline when `def` has B and L of flags, env or --config. */
  readonly ownVersion?: string;
}

export interface BackfillSummary {
  pipeline: string;
  date: string;
  dirty: number;
  recomputed: number;
  changed: number;
  /** Cells dirtied by archive files written after the day's last reconcile (or backfill). */
  fromArchive: number;
  /** Why nothing was recomputed although cells may be dirty (`revertedDayMessage`); absent: not skipped. */
  skipped?: string;
}

/** What a backfill says of a day reverted to the stream's version, and what to do instead. */
export function revertedDayMessage(pipeline: string, date: string): string {
  return `${date} was reverted to the stream's own version (0): a backfill would write recomputed cells into the stream's record, `
    + `so its dirty cells are kept. Reconcile the day again to publish a corrected version (concord reconcile --date ${date} --pipeline ${shellWord(pipeline)}), or leave it reverted`;
}

/**
 * Archive content added to a reconciled day after its last reconcile (or backfill): marks the cells
 * its events fall into dirty, so the backfill recomputes exactly those, and moves the day's archive
 * check forward. A day never reconciled is left alone (its reconcile reads all the archive holds for
 * it). Returns the cells marked. The nightly job may call this before `backfillDay`.
 */
export async function detectArchiveChanges(def: PipelineDefinition, date: string, store: ReconcileStore, archiveDir: string): Promise<number> {
  const found = await markArchiveChanges(def, date, store, archiveDir);
  await found.advance();
  return found.cells;
}

/**
 * `detectArchiveChanges` whose check moves forward only when `advance` is called: a backfill refused
 * for an archive that does not hold the day (another --archive, the day's folder away) leaves it, so the
 * files it could not see are still news when the archive is back (before 2026-12-08 the refused attempt
 * moved it past them and their archive-only late data was never backfilled).
 */
async function markArchiveChanges(def: PipelineDefinition, date: string, store: ReconcileStore, archiveDir: string): Promise<{ cells: number; advance: () => Promise<void> }> {
  const none = { cells: 0, advance: async () => undefined };
  if (!store.archiveCheckedThrough || !store.markDirty || !store.setArchiveCheckedThrough) return none;
  const since = await store.archiveCheckedThrough(def.name, date);
  if (since === null) return none;
  const changes = await archiveChangedSince(def, archiveDir, date, since);
  await store.markDirty(def.name, changes.cells, 'archive_added');
  return { cells: changes.cells.length, advance: async () => store.setArchiveCheckedThrough!(def.name, date, changes.listedAt) };
}

/**
 * Recomputes only the dirty cells of a reconciled day from the archive (the events of those cells, not
 * the whole day nor every cell of their windows: `replayDirtyCells`) and upserts them into the day's live version with provenance `backfill`. Cells
 * are dirty when stream rows or late events changed them after the reconcile, or when archive files
 * arrived after it (`detectArchiveChanges`). Rule pipelines: a dirty key's alerts of the day are
 * recomputed (an alert depends on its key's earlier events: the key's reach is read, the day, the span
 * before it and its last earlier event's span, rule-day-reach.ts; other keys are not touched). A day reverted to the stream's version is skipped, its dirty cells kept: the revert
 * chose the stream's record, which a backfill would mix recomputed cells into.
 */
export async function backfillDay(req: BackfillRequest): Promise<BackfillSummary> {
  const { def, date, store } = req;
  const range = dayRange(date);
  const total = 5;
  const step = async (done: number, what: string) => req.progress?.({ done, total, what });
  if (await store.revertedToStream(def.name, date)) {
    const skipped = revertedDayMessage(def.name, date);
    await step(total, `skipped: ${skipped}`);
    return { pipeline: def.name, date, dirty: (await store.dirtyCells(def.name, date)).length, recomputed: 0, changed: 0, fromArchive: 0, skipped };
  }
  const given = definitionVersion(def);
  const others = new Map([...(await store.definitionVersions(def.name, date))].filter(([v]) => v !== given));
  if (others.size > 0) throw new DefinitionChangedError(def.name, date, given, others, 'backfill', { archiveDir: req.archiveDir, ...(req.ownVersion === undefined ? {} : { own: req.ownVersion }) });
  await step(0, 'looking for archive files written after the day\'s last reconcile');
  const found = await markArchiveChanges(def, date, store, req.archiveDir);
  const fromArchive = found.cells;
  const dirty = await store.dirtyCells(def.name, date);
  const summary: BackfillSummary = { pipeline: def.name, date, dirty: dirty.length, recomputed: 0, changed: 0, fromArchive };
  // An archive without the day (a worker's --archive naming another folder) replays every dirty cell to
  // nothing: they were consumed unchanged ("0 of N changed") and the news they stood for was lost.
  const held = await archiveHoldsDay(def, req.archiveDir, date);
  if (dirty.length === 0) {
    if (held) await found.advance();
    await step(total, 'no dirty cells: nothing to recompute');
    return summary;
  }
  if (!held) throw await noArchivedDay(date, req.archiveDir);
  // The day's check passes on the next day's first hours alone (hopping windows reach past midnight): a
  // day folder missing beside the next day's replayed the cells inside it to nothing, consumed unchanged.
  if (def.kind === 'windowed') {
    const bare = await windowsWithoutArchive(def, req.archiveDir, date, dirty);
    // A window whose hour files a read moved to _corrupt/ is not missing from the archive: say which file to restore.
    const corrupt = (await Promise.all(bare.map((r) => corruptFilesIn(req.archiveDir, def.schema, r)))).flat();
    if (corrupt.length > 0) throw new CorruptArchiveDayError(def.name, date, [...new Set(corrupt)], 'backfill');
    if (bare.length > 0) throw await noArchivedDay(date, req.archiveDir);
  }
  await found.advance();
  await step(1, `replaying the archive for ${dirty.length} dirty cells (${fromArchive} from archive files added after the reconcile)`);
  let rows: ResultRecord[];
  let read: TimeRange[];
  if (def.kind === 'windowed') {
    rows = await replayDirtyCells(def, req.archiveDir, dirty);
    read = dirtyCellTimes(def, dirty);
  } else {
    // The dirty keys' reach only: the day, the span before it, and each key's last earlier event's span.
    const keys = [...new Map(dirty.map((d) => [paneId([def.key], d.key), d.key])).values()];
    const replayed = await replayRuleDay(def, req.archiveDir, range, keys);
    rows = replayed.alerts;
    read = [{ from: Math.min(eventTimesOfDay(def, date).from, replayed.from), to: range.to }];
  }
  // A file the cells read moved to _corrupt/ (by this replay or an earlier read): their events are missing,
  // and upserted, the cells would replace the reconciled numbers with smaller ones.
  const corrupt = (await Promise.all(read.map((r) => corruptFilesIn(req.archiveDir, def.schema, r)))).flat();
  if (corrupt.length > 0) throw new CorruptArchiveDayError(def.name, date, [...new Set(corrupt)], 'backfill');
  // A dirty cell that replays to nothing (its only events were rejected) is consumed as well.
  // Sorted by cell id, each id computed once (not twice per comparison).
  rows = rows.map((r) => ({ r, k: cellKey(r) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.r);
  summary.recomputed = rows.length;
  await step(2, `writing ${rows.length} recomputed cells into the live version`);
  let n = 2;
  summary.changed = (await store.upsertBackfill(def.name, date, rows, dirty, { jobId: req.jobId, progress: (what) => step(Math.min(++n, 4), what) })).changed;
  await step(total, `backfilled: ${summary.changed} of ${dirty.length} dirty cells changed`);
  return summary;
}

/**
 * The dirty cells' windows no archived event-time hour overlaps (an hour folder with a Parquet file), as
 * time ranges: the archive does not hold those windows, whatever it holds of the day's reach.
 */
async function windowsWithoutArchive(def: WindowedPipeline, archiveDir: string, date: string, dirty: readonly WindowCell[]): Promise<TimeRange[]> {
  const hours = new Set<number>();
  for (const f of await archiveFilesOfEventTimes(archiveDir, def.schema, eventTimesOfDay(def, date))) {
    const m = /dt=(\d{4}-\d{2}-\d{2})[\\/]hour=(\d{2})[\\/]/.exec(f);
    if (m) hours.add(Date.parse(`${m[1]}T${m[2]}:00:00.000Z`));
  }
  const HOUR = 3_600_000;
  const bare: TimeRange[] = [];
  for (const start of new Set(dirty.map((d) => d.windowStart))) {
    const first = Math.floor(start / HOUR) * HOUR;
    let held = false;
    for (let h = first; h < start + def.window.size && !held; h += HOUR) held = hours.has(h);
    if (!held) bare.push({ from: start, to: start + def.window.size });
  }
  return bare;
}

/**
 * The dirty cells of a windowed pipeline recomputed: the events of those (window, key) cells alone
 * (batch/replay-cells.ts), not every cell of their windows, read from their windows' time ranges and
 * deduplicated within them, as the backfill always has. A dirty cell without events has no result.
 */
export async function replayDirtyCells(def: WindowedPipeline, archiveDir: string, dirty: readonly WindowCell[], db?: DuckDb): Promise<WindowResult[]> {
  const timeRanges = dirtyCellTimes(def, dirty);
  const results = await replay(def, archiveDir, { dedupe: true, timeRanges, exactDistinct: false, cells: dirty, ...(db ? { db } : {}) });
  return results.filter((r) => r.kind === 'window');
}

/** The event times the dirty cells' windows hold: what `replayDirtyCells` reads. */
function dirtyCellTimes(def: WindowedPipeline, dirty: readonly WindowCell[]): TimeRange[] {
  return mergeRanges(dirty.map((d) => ({ from: d.windowStart, to: d.windowStart + def.window.size })));
}
