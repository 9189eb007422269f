import { shellWord } from '../../pipeline/names.ts';
import { dayHeadlines } from '../../reconcile/day-headline.ts';
import { differencesMarkdown, reconciliationMarkdown, statusAfter } from '../../reconcile/day-report.ts';
import { mdCell, mdCode, mdKeyValues, mdRow } from '../../reconcile/markdown.ts';
import type { DayReport, ReportRows } from './report.ts';

/** The day's live cells, counted per definition version (the summary reads no rows). */
function liveCells(p: DayReport<ReportRows>['pipelines'][number]): number {
  return Object.values(p.definition_versions).reduce((a, b) => a + b, 0);
}

/**
 * Where the stream is against the report's day. The store's watermark is the pipeline's newest (of the
 * day the stream is at): on a report of a past day it read as that day's ("watermark" of today on last
 * week's report), so a day the stream has passed says so instead; one it is in, or not at yet, says the watermark.
 */
function streamAtDay(p: DayReport<ReportRows>['pipelines'][number]): string {
  const w = p.status.watermark;
  if (w === null) return 'watermark unknown';
  if (p.stream_passed === true) return 'the stream has passed this day';
  const at = new Date(w).toISOString();
  return p.stream_reached === false ? `the stream has not reached this day: watermark ${at}` : `watermark ${at}`;
}

/** The Markdown report as one text (`markdownPieces` joined). */
export async function toMarkdown(r: DayReport<ReportRows>, cells: boolean): Promise<string> {
  let text = '';
  for await (const piece of markdownPieces(r, cells)) text += piece;
  return text;
}

/**
 * The Markdown report a piece at a time: its lines joined by line breaks, as one string of them was. With
 * `cells`, each pipeline's table rows come as the rows are read (a day's cells are never held whole).
 */
export async function* markdownPieces(r: DayReport<ReportRows>, cells: boolean): AsyncIterable<string> {
  let first = true;
  for await (const line of markdownLines(r, cells)) {
    yield first ? line : `\n${line}`;
    first = false;
  }
}

/** The report's lines (a line may hold several: a table made elsewhere). */
async function* markdownLines(r: DayReport<ReportRows>, cells: boolean): AsyncIterable<string> {
  const out = [`# Concord report — ${r.date}`, ''];
  // First the answer a reader comes for (why the dashboard's numbers differ, what to run), then the tables.
  const held = r.pipelines.filter((p) => !p.empty);
  if (held.length > 0) {
    out.push(dayHeadlines(held.map((p) => ({
      date: r.date, pipeline: p.pipeline, kind: 'windowed' as const, ...p.headline, reconciliation: p.reconciliation, status: p.status,
      ...(p.headline?.streamDefinitions
        ? { definitions: { live: Object.keys(p.definition_versions), stream: p.headline.streamDefinitions, given: p.definition_version } }
        : {}),
    }))), '');
  }
  const recs = r.pipelines.flatMap((p) => (p.reconciliation ? [p.reconciliation] : []));
  // The day's status now (what a reconciliation recorded was the day before it published).
  const now = new Map(r.pipelines.map((p) => [p.pipeline, p.status]));
  if (recs.length > 0) out.push('## Reconciliation', '', reconciliationMarkdown(recs, (d) => now.get(d.pipeline)?.status ?? statusAfter(d), (d) => now.get(d.pipeline)?.liveGeneration), '');
  for (const p of r.pipelines) {
    const s = p.status;
    if (p.empty) {
      out.push(`## ${mdCell(p.pipeline)}`, '', 'No data for this day: nothing was streamed into the store or reconciled for it.', '');
      continue;
    }
    out.push(`## ${mdCell(p.pipeline)}`, '', `Day ${s.status} (${streamAtDay(p)}); live version ${s.liveGeneration}` +
      `${s.liveGeneration !== 0 ? '' : s.generations.length > 0 ? ` (realtime: reconciled version ${s.generations.join(', ')} reverted)` : ' (realtime, not reconciled yet)'}; ${s.dirty} dirty cells, late-delta ${s.lateDelta}.`, '');
    const versions = Object.entries(p.definition_versions);
    // The pipeline as one shell word, in a code span no name can close: a name is the definitions' free text.
    const backfill = mdCode(`concord backfill --from ${r.date} --to ${r.date} --pipeline ${shellWord(p.pipeline)} --archive DIR`);
    if (versions.length > 1) {
      out.push(`!! The live rows mix definition versions ${versions.map(([x, n]) => `${x} (${n} rows)`).join(' and ')} (the definition changed while the day was streamed): ` +
        `its numbers are not one definition's; recompute the day under the definitions given (${p.definition_version}) with ${backfill}.`, '');
    } else if (versions.length === 1 && versions[0]![0] !== p.definition_version) {
      out.push(`Computed by definition version ${versions[0]![0]}; the definitions given compute ${p.definition_version} (${backfill} recomputes the day under them).`, '');
    }
    // A day recomputed under a changed definition since its reconciliation: the table above is the old one's.
    const reconciled = p.reconciliation?.report.definition_version;
    if (reconciled !== undefined && versions.length > 0 && !versions.some(([x]) => x === reconciled)) {
      out.push(`The reconciliation shown is of definition version ${reconciled}; the live rows (version ${s.liveGeneration}) are of ${versions.map(([x]) => x).join(' and ')}, ` +
        'computed since: its cells, differences and causes describe the day under the old definition.', '');
    }
    if (p.reconciliation) out.push('Top differences:', '', differencesMarkdown(p.reconciliation, 10), '');
    if (!cells) {
      out.push(`${liveCells(p)} cells live (every cell: --cells, or --format csv|json).`, '');
      continue;
    }
    // Keys as in "Top differences" (mdKeyValues: null is `∅`, the string "null" is `"null"`).
    out.push(mdRow(['window start', 'key', 'values', 'revision', 'provenance']), '|---|---|---|---:|---|');
    yield* out.splice(0);
    for await (const x of p.rows) {
      const values = Object.entries(x.values).map(([k, val]) => `${k} ${Array.isArray(val) ? val.join(' ') : String(val)}`).join(', ');
      yield mdRow([x.window_start, mdKeyValues(Object.values(x.key)), values, x.revision, x.provenance]);
    }
    out.push('');
  }
  yield* out;
}
