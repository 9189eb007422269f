import type { PipelineDefinition } from '../pipeline/definition.ts';
import { dayHeadlines } from './day-headline.ts';
import { dayStatusOf, type DayStatusName } from '../store/day-status.ts';
import { mdCell, mdKeyValues, mdRow, mdTable } from './markdown.ts';
import { CAUSES, type ReconcileReport } from './reconcile.ts';

/** One pipeline's reconciliation of one day, as stored with the version it published. */
export interface DayReconciliation {
  date: string;
  pipeline: string;
  /**
   * The day version (generation) this reconciliation made visible; null when it failed before publishing.
   * `unchanged`: the version it found live already holding its replay (it published nothing).
   */
  generation: number | null;
  previous_generation: number;
  status: 'published' | 'unchanged' | 'failed_unexplained';
  /** provisional until the pipeline's watermark passes the end of the day plus the seal delay. */
  day_status: 'provisional' | 'sealed';
  reconciled_at: string;
  job_id: string;
  /** Visible cells whose value the switch changed (published as old -> new changes). */
  corrections: number;
  report: ReconcileReport;
  /**
   * Only on the record readers are shown (`currentReconciliation`): the latest run, `unchanged`, that
   * found this published version still holding its replay.
   */
  rechecked?: { job_id: string; reconciled_at: string };
}

/**
 * The reconciliation a day's readers are shown (report, API), from its stored ones in order: the latest,
 * unless it published nothing (`unchanged`). Then the run that published the version it found live is
 * shown, with the rerun as its `rechecked` note: as a table's history keeps what its current version's
 * commit changed, a rerun that changes nothing must not hide what the live version corrected.
 */
export function currentReconciliation(recs: readonly DayReconciliation[]): DayReconciliation | null {
  const last = recs.at(-1);
  if (last?.status !== 'unchanged') return last ?? null;
  const published = recs.findLast((r) => r.status === 'published' && r.generation === last.generation);
  return published ? { ...published, rechecked: { job_id: last.job_id, reconciled_at: last.reconciled_at } } : last;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * The day's status once the reconciliation ran, in the words of `/api/days` (store/day-status.ts): what
 * it recorded (`day_status`) was the day before it published.
 */
export function statusAfter(d: DayReconciliation): DayStatusName {
  return dayStatusOf({ sealed: d.day_status === 'sealed', liveGeneration: d.generation ?? Math.max(d.previous_generation, 0) });
}

/**
 * The per-pipeline headline table and the per-cause table, in Markdown. `status`: each day's status to
 * show (`concord report`: the day's status now); by default the one the reconciliation left. `live`: the
 * version live now, shown beside the one the reconciliation published when a later one (a backfill, a
 * revert) replaced it.
 */
export function reconciliationMarkdown(days: readonly DayReconciliation[], status: (d: DayReconciliation) => string = statusAfter, live?: (d: DayReconciliation) => number | undefined): string {
  const version = (d: DayReconciliation) => {
    const now = live?.(d);
    const published = d.generation ?? 'not published';
    return now === undefined || now === d.generation ? published : `${published} (live now: ${now})`;
  };
  const out: string[] = [];
  out.push(mdTable(
    ['pipeline', 'day status', 'version', 'cells', 'equal', 'mismatched', 'missing', 'extra', 'mismatch rate', 'SMAPE', 'unexplained'],
    days.map((d) => {
      const m = d.report.metrics;
      return [d.pipeline, status(d), version(d), d.report.cells, d.report.equal, m.mismatched, m.missing, m.extra, pct(m.mismatch_rate), pct(m.smape), d.report.unexplained];
    }),
    ['---', '---', '---', ...Array<string>(8).fill('---:')],
  ));
  out.push('', mdTable(['pipeline', ...CAUSES], days.map((d) => [d.pipeline, ...CAUSES.map((c) => d.report.causes[c] ?? 0)]), ['---', ...CAUSES.map(() => '---:')]));
  const failed = days.filter((d) => d.status === 'failed_unexplained');
  if (failed.length > 0) {
    out.push('', `**${failed.map((d) => mdCell(d.pipeline)).join(', ')}: unexplained differences; no correction was published.**`);
  }
  return out.join('\n');
}

/**
 * Every difference of the day with its cause, for the Markdown report (capped; the JSON has all). The
 * cell's values as in every Markdown table of keys (`mdKeyValues`: null is `∅`, the string "null" is `"null"`).
 */
export function differencesMarkdown(d: DayReconciliation, limit = 50): string {
  const rows = d.report.differences.slice(0, limit).map((x) => {
    // mis_keyed: no late event, the partitions the cell's events lie in (the stream's share first).
    // duplicate: the repeated deliveries, said as such (they are no late events).
    const refs = (es: readonly { id: string; source: string; offset: number }[]) => es.map((e) => `${e.id}@${e.source}:${e.offset}`).join(', ');
    const late = x.partitions ? `partitions ${x.partitions.join(', ')}` : [refs(x.late_events), x.repeated ? `repeated ${refs(x.repeated)}` : ''].filter((t) => t !== '').join('; ');
    return mdRow([mdKeyValues(Object.values(x.cell)), x.realtime ? JSON.stringify(x.realtime) : '-', x.replay ? JSON.stringify(x.replay) : '-', x.cause, late]);
  });
  if (rows.length === 0) return `${mdCell(d.pipeline)}: no differences.`;
  const more = d.report.differences.length - rows.length;
  return [
    mdRow(['cell', 'realtime', 'replay', 'cause', 'late events (id@source:offset) or partitions']), '|---|---|---|---|---|', ...rows,
    ...(more > 0 ? [``, `(${more} more in the JSON report)`] : []),
  ].join('\n');
}

/**
 * A reconciliation's Markdown report file (`<report-dir>/<date>/<pipeline>.md`): its heading names the
 * pipeline as text (`mdCell`). `kind`: the reconciled pipeline's (a rule counts alerts, windows cells), from
 * its definition; guessed from the differences' cells, a rule day without differences (or a rule keyed by
 * a field named `window_start`) was said in cells.
 */
export function dayReportMarkdown(rec: DayReconciliation, kind: PipelineDefinition['kind']): string {
  const headline = dayHeadlines([{ date: rec.date, pipeline: rec.pipeline, kind, reconciliation: rec }]);
  return [`# ${mdCell(rec.pipeline)} — ${rec.date}`, '', headline, '', reconciliationMarkdown([rec]), '', '## Differences', '', differencesMarkdown(rec), ''].join('\n');
}
