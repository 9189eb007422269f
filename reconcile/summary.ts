import { CAUSES, type ReconcileReport } from './reconcile.ts';

/** A readable summary of reconcile reports: one table row per pipeline, then causes. */
export function formatSummary(reports: readonly ReconcileReport[]): string {
  // Causes by their report keys; `missing` / `extra` mean cells absent from the realtime / replay side.
  const header = ['pipeline', 'windows/alerts', 'equal', 'different', 'late beyond L', 'late within L', 'missing_window', 'unexplained'];
  const rows = reports.map((r) => [
    r.pipeline, String(r.cells), String(r.equal), String(r.different),
    String(r.causes.late_beyond_lateness), String(r.causes.late_within_lateness),
    String(r.causes.missing_window), String(r.unexplained),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const r of reports) {
    const explained = r.different - r.unexplained;
    // Every cause that explained a difference, by name: the table has columns for the late causes and
    // missing_window only, so differences explained as duplicate, parse_reject, archive_gap, ... were
    // counted "explained" with no cause in sight.
    const named = CAUSES.filter((c) => c !== 'unexplained' && r.causes[c] > 0).map((c) => `${c} ${r.causes[c]}`);
    out.push(
      `${r.pipeline}: ${r.different} differences, ${explained} explained (${r.different === 0 ? 100 : ((100 * explained) / r.different).toFixed(1)}%` +
        `${named.length > 0 ? `: ${named.join(', ')}` : ''}), ` +
        `${r.late_events} events late beyond lateness (B = ${r.max_out_of_orderness}, L = ${r.allowed_lateness})`,
    );
    // Not a fault of the stream's timing: the producer's keying, which the user must change.
    if (r.causes.mis_keyed > 0) {
      out.push(
        `${r.pipeline}: ${r.causes.mis_keyed} cells counted per partition over a topic not keyed by the schema's \`key\` field (each difference's "partitions" ` +
          'lists where its events lie; the stream kept the first one\'s share): key the records by that field, or declare the schema\'s `key` as the field ' +
          'the producer keys by (a changed definition: run it under a new --group), then backfill the affected days',
      );
    }
  }
  return out.join('\n');
}
