import { describe, expect, it } from 'vitest';
import { CAUSES, type Cause, type ReconcileReport } from '../../reconcile/reconcile.ts';
import { formatSummary } from '../../reconcile/summary.ts';

// The summary `concord reconcile` and `concord demo` print: every difference explained must show its
// cause. The table has columns for the late causes and missing_window only; differences explained as
// duplicate (or parse_reject, archive_gap, ...) used to read "4 explained" with every cause column 0.
const report = (causes: Partial<Record<Cause, number>>): ReconcileReport => {
  const all = Object.fromEntries(CAUSES.map((c) => [c, causes[c] ?? 0])) as Record<Cause, number>;
  const different = Object.values(all).reduce((a, b) => a + b, 0);
  return {
    pipeline: 'hop', definition_version: 'v', max_out_of_orderness: '30s', allowed_lateness: '5m',
    cells: 10, equal: 10 - different, different, causes: all, unexplained: all.unexplained, late_events: all.late_beyond_lateness,
    metrics: {} as ReconcileReport['metrics'], evidence: { duplicates: 0, dead_letters: 0, archive_gaps: 0 }, differences: [],
  };
};

describe('the reconcile summary', () => {
  it('names every cause that explained a difference, those without a column too', () => {
    const text = formatSummary([report({ duplicate: 3, parse_reject: 1, late_beyond_lateness: 2 })]);
    expect(text).toContain('hop: 6 differences, 6 explained (100.0%: late_beyond_lateness 2, duplicate 3, parse_reject 1), 2 events late beyond lateness (B = 30s, L = 5m)');
  });

  it('says nothing more when nothing differs, and leaves the unexplained to their own column', () => {
    expect(formatSummary([report({})])).toContain('hop: 0 differences, 0 explained (100%), 0 events late');
    expect(formatSummary([report({ unexplained: 2, archive_gap: 1 })])).toContain('hop: 3 differences, 1 explained (33.3%: archive_gap 1), ');
  });
});
