import { archiveFilesOfEventTimes } from '../batch/archive-layout.ts';
import type { ArchivedEvent } from '../batch/archive-reader.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { cellTableResults, loadWindowSkips, replay, replayCellTable, replaysAsTable } from '../batch/replay.ts';
import type { WindowedPipeline } from '../pipeline/definition.ts';
import { cellKey, positionKey, type EventPosition, type LateRecord, type ResultRecord } from '../schemas/results.ts';
import { addedByCell, eventsByCell, type ArchiveAdded } from './archive-added.ts';
import { causeOf, evidenceAttribution, sameValueOf, windowAttribution, windowsSkippedBy, type Evidence } from './attribution.ts';
import { diffCells, loadResults, variantSide, type CellSide } from './cell-diff.ts';
import { finalResults } from './final-results.ts';
import { contradictedBy, singleFileValues } from './other-run.ts';
import { misKeyedCells } from './mis-keyed.ts';
import type { Cause, LateEventRef, LoggedLate, ReconcileInput } from './reconcile.ts';
import { emptyReport, recordDifference, type ReconcileReport } from './reconcile-report.ts';
import { inRange } from './result-range.ts';
import { shadowRun } from './shadow-run.ts';
import { quarantinedAt, QUARANTINED_TABLE, type HeldCause } from './stream-quarantine.ts';

/**
 * Windows: every side of the diff is a DuckDB relation (see cell-diff.ts), so only differing cells
 * reach JS. Definitions without sketches replay straight into a cell table, the deduplicated replay and
 * the shadow (every delivery but the logged late ones) from one scan; sketches are replayed to records.
 * With archive files added after the day's first reconcile, a second shadow leaves their events out too.
 * Every shadow leaves out the events the stream quarantined (`lateness.quarantined`): it never counted them.
 */
export async function reconcileWindowed(
  db: DuckDb, def: WindowedPipeline, input: ReconcileInput, evidence: Evidence,
  lateness: { logged: readonly LoggedLate[] | undefined; skippedWindows: readonly LateRecord[]; added: ArchiveAdded | undefined; quarantined: readonly ArchivedEvent[]; heldCause?: HeldCause },
  timeRanges: { from: number; to: number }[] | undefined, withReplayed: boolean,
): Promise<{ report: ReconcileReport; replayed: ResultRecord[] }> {
  const { logged, skippedWindows, quarantined } = lateness;
  const excludeFromWindows = skippedWindows.map((l) => ({ ...l.position, windowStart: l.windowStart! }));
  const added = logged ? lateness.added : undefined;
  const range = input.range;
  const dedupe = input.dedupe ?? true;
  const extras = evidence.duplicates;
  // A day's windows: their events are in the files of the hours they span (event-time partitions), the
  // rest of the archive's files not even opened (a 30-day archive's footers: 0.7 s of 0.8 s).
  const files = timeRanges && [...new Set((await Promise.all(timeRanges.map((r) => archiveFilesOfEventTimes(input.archiveDir, def.schema, r)))).flat())].sort();
  const ranges = timeRanges ? { timeRanges, files: files! } : {};
  let replayed: CellSide, shadow: CellSide | undefined, shadowAdded: CellSide | undefined, replayedRecords: () => Promise<ResultRecord[]>;
  await input.progress?.('replaying the archive');
  if (replaysAsTable(def)) {
    const variants = [dedupe ? extras.replayExtrasTable : undefined];
    if (logged) {
      await db.createTableFromColumns('late_logged_rows', [
        { name: '_source', type: 'VARCHAR', values: logged.map((l) => l.record.position.source) },
        { name: '_offset', type: 'DOUBLE', values: logged.map((l) => l.record.position.offset) },
      ]);
      // With the events the stream quarantined: what it counted is the archive without either.
      await db.run(`CREATE OR REPLACE TEMP TABLE late_logged AS SELECT _source, _offset::BIGINT AS _offset FROM late_logged_rows UNION ALL SELECT _source, _offset FROM ${QUARANTINED_TABLE}`);
      variants.push('late_logged');
    }
    if (added) {
      await db.run(`CREATE OR REPLACE TEMP TABLE late_or_added AS SELECT _source, _offset FROM late_logged UNION ALL SELECT _source, _offset FROM ${added.table}`);
      variants.push('late_or_added');
    }
    let skipped: { variants: number[]; table: string } | undefined;
    if (skippedWindows.length > 0) {
      await loadWindowSkips(db, 'skipped_windows', skippedWindows.map((l) => ({ ...l.position, windowStart: l.windowStart! })));
      skipped = { variants: added ? [1, 2] : [1], table: 'skipped_windows' };
    }
    await replayCellTable(db, def, input.archiveDir, 'replay_cells', { ...ranges, variants, ...(skipped ? { skippedWindows: skipped } : {}) });
    replayed = await variantSide(db, def, 'replay_cells', 0, 'rp_cells', range);
    if (logged) shadow = await variantSide(db, def, 'replay_cells', 1, 'sh_cells', range);
    if (added) shadowAdded = await variantSide(db, def, 'replay_cells', 2, 'sha_cells', range);
    replayedRecords = () => cellTableResults(db, def, 'replay_cells', 0, range);
  } else {
    const all = await replay(def, input.archiveDir, { db, exactDistinct: false, ...ranges, ...(dedupe ? { exclude: extras.replayExtras } : {}) });
    replayed = await loadResults(db, def, 'rp_cells', all, range);
    if (logged) {
      // The workers said which events they judged late: what they should have produced is the archive
      // without exactly those, every delivery counted (as the stream counts).
      const exclude = [...logged.map((l) => l.record.position), ...quarantined.map((e) => e.position)];
      shadow = await loadResults(db, def, 'sh_cells', await replay(def, input.archiveDir, { db, exactDistinct: false, exclude, excludeFromWindows, ...ranges }), range);
      if (added) {
        const without = [...exclude, ...added.events.map((e) => e.position)];
        shadowAdded = await loadResults(db, def, 'sha_cells', await replay(def, input.archiveDir, { db, exactDistinct: false, exclude: without, excludeFromWindows, ...ranges }), range);
      }
    }
    replayedRecords = async () => [...finalResults(all.filter((r) => inRange(r, range))).values()];
  }
  let skips: readonly LateRecord[], lateEvents: number;
  if (logged) {
    skips = [...logged.flatMap((l) => windowsSkippedBy(def, l)), ...skippedWindows];
    lateEvents = logged.filter((l) => !l.evaluatedOnArrival).length;
  } else {
    // No record of what the stream judged late: rebuild it by running the stream semantics over the
    // archive in arrival order.
    await input.progress?.('re-running the stream over the archive in arrival order');
    const { out } = await shadowRun(db, def, input.archiveDir, quarantinedAt(quarantined));
    shadow = await loadResults(db, def, 'sh_cells', out.results, range);
    skips = out.skips;
    lateEvents = out.lates.length;
  }
  await input.progress?.(`loading ${input.realtime.length} realtime rows`);
  const realtime = await loadResults(db, def, 'rt_cells', input.realtime, range);
  const read = input.dashboardRead ? await loadResults(db, def, 'read_cells', input.dashboardRead, range) : undefined;
  await input.progress?.('diffing every cell');
  const diff = await diffCells(db, def, { realtime, replayed, shadow: shadow!, ...(read ? { read } : {}), ...(shadowAdded ? { shadowAdded } : {}) });
  await input.progress?.(`attributing ${diff.rows.length} differing cells of ${diff.cells}`);
  const report = emptyReport(def, diff.metrics, lateEvents, evidence, range);
  // A repeated delivery the stream judged late or quarantined is no cause: the deduplicating replay leaves
  // it out too. Named after it, a cell that differs by another repeat alone read as late_beyond_lateness
  // (or future_timestamp / parse_reject).
  const leftOut = new Set((dedupe ? extras.replayExtras : []).map(positionKey));
  const counted = (p: EventPosition) => !leftOut.has(positionKey(p));
  const attribute = windowAttribution(def, skips.filter((l) => counted(l.position)), quarantined.filter((e) => counted(e.position)), lateness.heldCause);
  const fallback = evidenceAttribution(def, evidence);
  const addedEvents = added ? addedByCell(def, added) : undefined;
  // A duplicate's evidence: the cell's repeated deliveries the stream counted there (which ride was counted
  // twice), listed apart from late events. Not those it quarantined, nor those it judged late for the
  // cell's window (every window of a dropped event; a hopping event's closed ones): before, a repeat
  // dropped as late was listed beside the one counted.
  const neverRead = new Set(quarantined.map((e) => positionKey(e.position)));
  const skippedAt = (windowStart: number | undefined, p: EventPosition) => `${windowStart ?? '*'}|${positionKey(p)}`;
  const skippedThere = new Set(skips.map((l) => skippedAt(l.windowStart, l.position)));
  const repeats = eventsByCell(
    def, dedupe ? extras.deliveries.filter((d) => !neverRead.has(positionKey(d.position))) : [],
    (e, start) => !skippedThere.has(skippedAt(start, e.position)) && !skippedThere.has(skippedAt(undefined, e.position)),
  );
  const sameValue = sameValueOf(def);
  const contradicted = contradictedBy(input.otherRun);
  // What the stream never read: the events it logged late and those it quarantined.
  const unread = [...(logged ?? []).map((l) => l.record.position), ...quarantined.map((e) => e.position)];
  // A stored value that is one input file's alone: another run over another file of the day wrote the
  // same value there, so the store took it for a rerun and recorded no cell (other-run.ts). Computed only
  // when a difference is left unexplained.
  let singleFile: Map<string, ResultRecord>[] | undefined;
  const oneFilesValue = async (rt: ResultRecord | undefined) => {
    if (!input.storedRuns || rt === undefined) return false;
    singleFile ??= await singleFileValues(db, def, input.archiveDir, { ...ranges, ...(unread.length > 0 ? { exclude: unread } : {}) });
    return singleFile.some((values) => sameValue(rt, values.get(cellKey(rt))));
  };
  const judged: { row: (typeof diff.rows)[number]; cause: Cause; events: LateEventRef[] }[] = [];
  for (const row of diff.rows) {
    // Equal, but the reader saw another value, and the stream itself settled on the right one later.
    if (row.same) judged.push({ row, cause: 'update_after_read', events: [] });
    else {
      const id = cellKey((row.rt ?? row.rp)!);
      let { cause, events } = causeOf(attribute, fallback, id, row.rt, row.rp, row.sh);
      // Events the stream never read (archived after the day's first reconcile, or past its reach): explained by them
      // when the stream's value is what it gives without them.
      const addedHere = addedEvents?.get(id);
      if ((cause === 'unexplained' || cause === 'missing_window') && addedHere && sameValue(row.rt, row.sha)) {
        cause = 'archive_added';
        events = [...events, ...addedHere];
      }
      if (cause === 'unexplained' && (contradicted(row.rt ?? row.rp) || (await oneFilesValue(row.rt)))) cause = 'other_run';
      judged.push({ row, cause, events });
    }
  }
  // Last, over what is left unexplained: one partition's share of a cell whose events lie in several. In
  // the store, the other partition's share at the same revision read as another run's row (other_run).
  const open = (c: Cause) => c === 'unexplained' || c === 'other_run';
  const misKeyed = await misKeyedCells(db, def, input.archiveDir, judged.filter((j) => open(j.cause)).map((j) => j.row), { ...ranges, exclude: unread, excludeFromWindows });
  for (const { row, cause, events } of judged) {
    if (row.same) recordDifference(report, row.read, row.rp, cause, events);
    else {
      const partitions = open(cause) ? misKeyed.get(cellKey((row.rt ?? row.rp)!)) : undefined;
      const repeated = cause === 'duplicate' ? repeats.get(cellKey((row.rt ?? row.rp)!)) : undefined;
      recordDifference(report, row.rt, row.rp, partitions ? 'mis_keyed' : cause, events, partitions, repeated);
    }
  }
  report.cells = diff.cells;
  report.equal = diff.cells - report.different;
  report.unexplained = report.causes.unexplained;
  return { report, replayed: withReplayed ? await replayedRecords() : [] };
}
