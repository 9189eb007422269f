import { ConcordError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import type { DayReconciliation } from './day-report.ts';

/** Why `reconcileDay` (reconcile-day.ts) refuses a day, or finds nothing to do: each says what to do. */

export class UnexplainedDifferencesError extends ConcordError {
  readonly reconciliation: DayReconciliation;
  constructor(rec: DayReconciliation) {
    super(
      `${rec.pipeline} ${rec.date}: ${rec.report.unexplained} of ${rec.report.different} differences are UNEXPLAINED; nothing was corrected. ` +
        `Read the differences with cause "unexplained" in the report and fix the cause, or publish the replay anyway with \`reconcile --date ${rec.date} --pipeline ${shellWord(rec.pipeline)} --force\``,
      { domain: 'internal' },
    );
    this.reconciliation = rec;
  }
}

/**
 * Why the store holds no stream row of a day, when it knows before any replay (reconcile/stream-coverage.ts):
 * `started_later`: the stream's first rows of the pipeline are of a later day (a pipeline added to the
 * definitions after it); `not_reached`: the stream's watermark is still before the day.
 */
export type NoStreamRows = { kind: 'started_later'; firstDay: string } | { kind: 'not_reached'; watermark: number };

/** The stream wrote no rows for a pipeline's day: there is nothing to reconcile (every cell would differ). */
export class NoRealtimeRowsError extends ConcordError {
  readonly pipeline: string;
  readonly date: string;
  /** `why` known from the store (undefined: found by the replay, the stream missed the day): the advice fits it. */
  constructor(pipeline: string, date: string, why?: NoStreamRows, archiveDir?: string) {
    const backfill = `\`concord backfill --from ${date} --to ${date} --pipeline ${shellWord(pipeline)} --archive ${archiveDir === undefined ? 'DIR' : shellWord(archiveDir)}\``;
    super(`no realtime rows for ${pipeline} on ${date}: ` + (
      why === undefined ? 'stream it or reconcile only the others with --pipeline'
      : why.kind === 'started_later'
        // Streaming the day now would not make it the stream's record either: the replay is all there is.
        ? `the stream's first rows of ${pipeline} are of ${why.firstDay} (a pipeline added to the definitions after ${date}): ` +
          `there is no stream record of ${date} to reconcile; compute the day from the archive with ${backfill}`
        : `the stream has not reached ${date} yet (its watermark of ${pipeline} is at ${new Date(why.watermark).toISOString()}): ` +
          `reconcile the day once the stream has passed it, or compute it from the archive now with ${backfill}`), { domain: 'user' });
    this.pipeline = pipeline;
    this.date = date;
  }
}

/** Definition versions with their row counts: `a (3 rows), b (2 rows) and c (1 rows)`. */
const listed = (versions: ReadonlyMap<string, number>): string => {
  const each = [...versions].map(([v, n]) => `${v} (${n} rows)`);
  return each.length < 2 ? each.join('') : `${each.slice(0, -1).join(', ')} and ${each.at(-1)!}`;
};

/**
 * The stream's rows of the day were computed under another definition than the one given: a diff would
 * blame the definition's change on late data or a stream outage (`missing_window`) and publish it.
 */
export class DefinitionChangedError extends ConcordError {
  /**
   * `context.own`: the version the definitions file itself gives (without B and L from flags, env or
   * --config). When the stored rows carry it, those settings made the difference, and are named.
   */
  constructor(pipeline: string, date: string, given: string, stored: ReadonlyMap<string, number>, by: 'reconcile' | 'backfill' = 'reconcile', context: { archiveDir?: string; own?: string } = {}) {
    const versions = listed(stored);
    const what = by === 'reconcile'
      ? `the stream's rows were computed by definition version ${versions}, the definitions give ${given}: reconcile compares a day with the definition that computed it`
      : `the day's live rows were computed by definition version ${versions}, the definitions give ${given}: backfill recomputes cells of a day with the definition that computed it (recomputed cells beside the others would mix two definitions)`;
    const byTiming = context.own !== undefined && context.own !== given && stored.has(context.own);
    super(byTiming
      ? `${pipeline} ${date}: ${what}. The definitions file's own B and L give ${context.own}, the stored rows' version: ` +
        '--max-out-of-orderness / --allowed-lateness (or CONCORD_MAX_OUT_OF_ORDERNESS / CONCORD_ALLOWED_LATENESS, --config) made the other; leave them out'
      // Stream rows of two definitions (changed mid-day): no definitions file reconciles the day whole.
      : `${pipeline} ${date}: ${what}${stored.size > 1 ? ': no one definition computed the day; recompute it under this one' : ' (run it with that definition), or recompute the day under this one'} ` +
        `with \`concord backfill --from ${date} --to ${date} --pipeline ${shellWord(pipeline)} --archive ${context.archiveDir === undefined ? 'DIR' : shellWord(context.archiveDir)}\``,
    { domain: 'user' });
  }
}

/**
 * The stream's rows of the day were computed under other definitions, and the day's live rows were
 * recomputed under the one given (`backfill --from D --to D`): there is nothing of this definition's
 * stream to compare with a replay, and nothing left to do. Not a failure: the day holds what was asked.
 */
export class DayRecomputedError extends ConcordError {
  constructor(pipeline: string, date: string, given: string, stream: ReadonlyMap<string, number>) {
    super(
      `${pipeline} ${date}: already recomputed from the archive under these definitions (${given}): nothing to reconcile. ` +
        `(the stream's rows of the day were computed by definition version ${listed(stream)}: a diff against this definition's replay ` +
        'would blame the change on the data)',
      { domain: 'user' },
    );
  }
}
