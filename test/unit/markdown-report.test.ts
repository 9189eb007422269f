import { describe, expect, it } from 'vitest';
import { dayReportMarkdown, differencesMarkdown, reconciliationMarkdown, type DayReconciliation } from '../../reconcile/day-report.ts';
import { mdCell } from '../../reconcile/markdown.ts';
import { CAUSES } from '../../reconcile/reconcile.ts';

// The Markdown reports (reconcile's <pipeline>.md, `concord report --format md`): a key value holding `|`
// split its row into more cells than the header has, and "Top differences" printed a null key and the
// string "null" both as `null` (where the --cells table printed null as blank).

/** A table row's cells as a GitHub-flavoured Markdown reader splits them: on pipes no backslash escapes. */
const cellsOf = (row: string) => row.replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim());

const W = { window_start: '2026-11-20T01:00:00.000Z', window_end: '2026-11-20T01:10:00.000Z' };
const difference = (cell: Record<string, unknown>, late: { id: string; source: string; offset: number }[] = []) => ({
  cell: { ...W, ...cell }, realtime: { n: 1, revision: 0 }, replay: { n: 2, revision: 0 }, cause: 'late_beyond_lateness' as const,
  late_events: late.map((e) => ({ ...e, ts: W.window_start })),
});

function day(pipeline: string, differences: ReturnType<typeof difference>[]): DayReconciliation {
  return {
    date: '2026-11-20', pipeline, generation: 1, previous_generation: 0, status: 'published', day_status: 'provisional',
    reconciled_at: '2026-11-21T02:00:00.000Z', job_id: 'j', corrections: differences.length,
    report: {
      pipeline, definition_version: 'v', max_out_of_orderness: '30s', allowed_lateness: '5m', cells: 10, equal: 10 - differences.length,
      different: differences.length, causes: Object.fromEntries(CAUSES.map((c) => [c, c === 'late_beyond_lateness' ? differences.length : 0])) as DayReconciliation['report']['causes'],
      unexplained: 0, late_events: differences.length, evidence: { duplicates: 0, dead_letters: 0, archive_gaps: 0 }, differences,
      metrics: { mismatched: differences.length, missing: 0, extra: 0, mismatch_rate: 0.1, smape: 0.01 } as DayReconciliation['report']['metrics'],
    },
  };
}

describe('Markdown report tables', () => {
  it('a `|` or a line break in a key, an event id or a pipeline name stays inside its cell', () => {
    const rec = day('site|zone', [
      difference({ site: 'a|b', zone: 'north' }, [{ id: 'r|1', source: 'file:x|y.jsonl', offset: 3 }]),
      difference({ site: 'two\nlines', zone: 'south' }, [{ id: 'r2', source: 'file:\nz.jsonl', offset: 4 }]),
    ]);
    const table = differencesMarkdown(rec).split('\n');
    expect(table).toHaveLength(4); // header, alignment, two rows: no line break inside a row
    for (const row of table) expect(cellsOf(row)).toHaveLength(5);
    expect(cellsOf(table[2]!)[0]).toBe(`${W.window_start} ${W.window_end} a\\|b north`);
    expect(cellsOf(table[2]!)[4]).toBe('r\\|1@file:x\\|y.jsonl:3');
    expect(cellsOf(table[3]!)[0]).toBe(`${W.window_start} ${W.window_end} "two\\nlines" south`);
    expect(cellsOf(table[3]!)[4]).toBe('r2@file:<br>z.jsonl:4');
    const summary = reconciliationMarkdown([rec]).split('\n');
    expect(cellsOf(summary[2]!)).toEqual(['site\\|zone', 'reconciled', '1', '10', '8', '2', '0', '0', '10.00%', '1.00%', '0']);
    expect(cellsOf(summary[6]!)).toHaveLength(1 + CAUSES.length);
    expect(cellsOf(summary[6]!)[0]).toBe('site\\|zone');
  });

  it('the version a reconciliation published, and the one live now when a backfill or revert replaced it', () => {
    const rec = day('p', []);
    const row = (live?: number) => cellsOf(reconciliationMarkdown([rec], undefined, () => live).split('\n')[2]!)[2];
    expect(row()).toBe('1');
    expect(row(1)).toBe('1');
    expect(row(2)).toBe('1 (live now: 2)');
    expect(row(0)).toBe('1 (live now: 0)');
  });

  it('a null key, the string "null", an empty string and a number-like string print apart', () => {
    const rec = day('p', [
      difference({ site: 'plain', zone: null }), difference({ site: 'plain', zone: 'null' }),
      difference({ site: '', zone: '42' }), difference({ site: 'ünï cødé', zone: 42 }),
    ]);
    const keys = differencesMarkdown(rec).split('\n').slice(2).map((row) => cellsOf(row)[0]!.slice(`${W.window_start} ${W.window_end} `.length));
    expect(keys).toEqual(['plain ∅', 'plain "null"', '"" "42"', '"ünï cødé" 42']);
  });

  it('a key value with an invisible or bidirectional control character is quoted, the character written \\uXXXX', () => {
    // Before: a NUL went into the .md raw (grep and git diff then take the report for binary) and a
    // right-to-left override was shown bare, turning the rest of the row around.
    const rec = day('p', [difference({ site: 'nul\u0000x', zone: 'abc\u202eevil' }), difference({ site: 'del\u007f', zone: 'lrm\u200e' })]);
    const keys = differencesMarkdown(rec).split('\n').slice(2).map((row) => cellsOf(row)[0]!.slice(`${W.window_start} ${W.window_end} `.length));
    expect(keys).toEqual(['"nul\\u0000x" "abc\\u202eevil"', '"del\\u007f" "lrm\\u200e"']);
    expect(differencesMarkdown(rec)).not.toMatch(/[\u0000\u007f\u200e\u202e]/);
  });

  it('a value renders as its own text: no HTML, code span, emphasis or link made of it, and a heading stays one line', () => {
    // Before: `<script>` and `<img onerror>` went into the .md as HTML (a wiki rendering raw HTML ran
    // them), `*x*`, `_x_` and backticks became emphasis or code (the characters vanished), a value
    // holding the text `<br>` read as a line break, a `\"` of a JSON-quoted key rendered as `"`, and a
    // pipeline name with a line break split the report's `# name — date` heading.
    const hostile = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', 'a&amp;b', '*bold* _em_ `code` ~~s~~', '[x](javascript:alert(1))', 'lit<br>eral', 'back\\|slash\\', 'snake_case_name'];
    /** CommonMark's reading of a cell's inline text, for what mdCell writes: entities, backslash escapes, `<br>`. */
    const render = (cell: string) => cell.replace(/\\([!-/:-@[-`{-~])|&amp;|&lt;|<br>/g, (m, p: string | undefined) => (p ?? (m === '&amp;' ? '&' : m === '&lt;' ? '<' : '\n')));
    for (const v of hostile) {
      const cell = mdCell(v);
      expect(render(cell)).toBe(v);
      // Nothing left that a Markdown reader would take as markup: no raw `<`, no unescaped code/emphasis/link marks.
      expect(cell).not.toMatch(/</);
      expect(cell.replace(/\\[!-/:-@[-`{-~]/g, '')).not.toMatch(/[`*~[\]|]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/u);
    }
    expect(mdCell('snake_case_name')).toBe('snake_case_name'); // intraword `_` is no emphasis: cause names stay as they were
    expect(mdCell('two\nlines')).toBe('two<br>lines');

    const rec = day('rule\nline <b>*x*</b>', [difference({ site: '"q" <i>&', zone: 'null' })]);
    const md = dayReportMarkdown(rec, 'windowed').split('\n');
    expect(md[0]).toBe('# rule<br>line &lt;b>\\*x\\*&lt;/b> — 2026-11-20');
    const row = md.find((l) => l.includes('late_beyond_lateness') && l.startsWith('| 2026'))!;
    expect(render(cellsOf(row)[0]!)).toBe(`${W.window_start} ${W.window_end} "\\"q\\" <i>&" "null"`);
  });
});

// The report file's headline counted a rule's alerts as cells whenever the differences did not show it
// was a rule: a day without differences, or a rule keyed by a field named `window_start`.
describe('a reconciliation\'s report file says what the pipeline counts', () => {
  const headline = (md: string) => md.split('\n').find((l) => l.startsWith('**'))!;
  it('a rule day without differences: alerts', () => {
    const rec = day('burst', []);
    expect(headline(dayReportMarkdown(rec, 'rule'))).toBe('**burst**: the realtime numbers equal version 1 in all 10 alerts. Nothing to run.');
    expect(headline(dayReportMarkdown(rec, 'windowed'))).toBe('**burst**: the realtime numbers equal version 1 in all 10 cells. Nothing to run.');
  });
  it('a rule keyed by `window_start`: its differing alerts are alerts', () => {
    const rec = day('by_slot', []);
    const alert = { cell: { window_start: 'slot-1', id: 'e1', ts: W.window_start }, realtime: null, replay: { n: 2 }, cause: 'late_beyond_lateness' as const, late_events: [] };
    const withAlert: DayReconciliation = { ...rec, report: { ...rec.report, equal: 9, different: 1, differences: [alert], metrics: { ...rec.report.metrics, mismatched: 0, missing: 1 } } };
    const said = headline(dayReportMarkdown(withAlert, 'rule'));
    expect(said).toContain('differ from version 1 in 1 of 10 alerts (10.00%)');
    expect(said).toContain('missed 1 alert it raises');
  });
});
