import { describe, expect, it } from 'vitest';
import { MIN_JUDGED, mostRefusedWarning, reasonsText } from '../../cli/rejection-summary.ts';
import { OTHER_REASONS, countRejection, mergeRejections, topReasons, type RejectionReasons } from '../../stream/rejection-reasons.ts';

/** Dead letters of a field (`field: ...`, the reason's prefix), or of no field. */
const tally = (counts: Array<[string, number]>): RejectionReasons => {
  const reasons: RejectionReasons = new Map();
  for (const [reason, n] of counts) {
    const field = /^(\w+): /.exec(reason)?.[1] ?? null;
    for (let i = 0; i < n; i++) countRejection(reasons, { field: field === 'malformed' ? null : field, reason });
  }
  return reasons;
};
const typo = 'user_id: is required (nor at "usr.id": no "usr" in the event)';

describe('dead letters per reason', () => {
  it('merged per step (a Kafka worker adds a step when it commits) says what counting them all in one place says', () => {
    // The dead letters of three steps, each counted apart, then added up: a field's split per reason too.
    const letters: Array<{ field: string | null; reason: string }> = [];
    for (let i = 0; i < 40; i++) letters.push({ field: 'items', reason: `items: expected an integer, got string "${i}"` });
    for (let i = 0; i < 25; i++) letters.push({ field: 'items', reason: `items: ${i}.5 is not an integer` });
    for (let i = 0; i < 30; i++) letters.push({ field: `f${i % 12}`, reason: `f${i % 12}: check ${i % 23} failed` });
    for (let i = 0; i < 120; i++) letters.push({ field: `g${i}`, reason: `g${i}: is required` });
    const once: RejectionReasons = new Map();
    for (const d of letters) countRejection(once, d);
    const merged: RejectionReasons = new Map();
    for (const step of [letters.slice(0, 17), letters.slice(17, 90), letters.slice(90)]) {
      const counted: RejectionReasons = new Map();
      for (const d of step) countRejection(counted, d);
      mergeRejections(merged, counted);
    }
    expect(reasonsText(merged, letters.length)).toBe(reasonsText(once, letters.length));
    expect(merged.get('field items')?.reasons?.size).toBe(2);
    expect([...(merged.get('field items')?.reasons?.values() ?? [])].map((a) => a.count)).toEqual([40, 25]);
    expect(merged.size).toBe(once.size);
    expect(merged.get(OTHER_REASONS)?.count).toBe(once.get(OTHER_REASONS)?.count);
  });

  it('counts each reason, most frequent first, and keeps a bounded number of reasons', () => {
    const reasons = tally([['malformed JSON', 1], [typo, 5], ['status: expected an integer', 2]]);
    expect(topReasons(reasons, 2)).toEqual([[typo, 5], ['status: expected an integer', 2]]);
    const many: RejectionReasons = new Map();
    for (let i = 0; i < 150; i++) countRejection(many, { field: `f${i}`, reason: `f${i}: is required` });
    expect(many.size).toBe(101);
    expect(many.get(OTHER_REASONS)?.count).toBe(50);
  });

  it('counts the reasons quoting the line together: all malformed JSON as one, each field\'s values as one', () => {
    // A CSV file read as JSON lines: each line's parse error names its own token and position. Before,
    // each was a reason of its own: "99 (other reasons); 1 malformed JSON: ...; 1 malformed JSON: ...".
    const reasons: RejectionReasons = new Map();
    for (let i = 0; i < 150; i++) countRejection(reasons, { field: null, reason: `malformed JSON: Unexpected token 'o', "o${i},c1"... is not valid JSON` });
    for (const v of ['"3"', '"4"', '1.5']) countRejection(reasons, { field: 'items', reason: `items: expected an integer, got ${v}` });
    countRejection(reasons, { field: 'amount', reason: 'amount: 12.345 is not a number with at most 2 decimal places' });
    for (let i = 0; i < 2; i++) countRejection(reasons, { field: null, reason: `line of ${2_000_000 + i} bytes is over the line limit of 1048576 bytes (CONCORD_MAX_LINE_BYTES)` });
    expect(reasons.size).toBe(4);
    expect(reasonsText(reasons, 156)).toBe(
      '150 malformed JSON (lines that are not JSON; the first: Unexpected token \'o\', "o0,c1"... is not valid JSON); ' +
      '3 items: refused for 2 reasons (2 expected an integer, got "3" (the first of several alike); 1 expected an integer, got 1.5); ' +
      '2 line of 2000000 bytes is over the line limit of 1048576 bytes (CONCORD_MAX_LINE_BYTES) (the first of several alike); and 1 more for 1 other reason',
    );
  });

  it('a field\'s reasons are counted apart, values aside, and bounded', () => {
    const reasons: RejectionReasons = new Map();
    const refuse = (reason: string, n = 1) => { for (let i = 0; i < n; i++) countRejection(reasons, { field: 'ts', reason }); };
    refuse('ts: "2026-01-0x" is not an ISO-8601 timestamp or epoch milliseconds');
    refuse('ts: "yesterday" is not an ISO-8601 timestamp or epoch milliseconds', 2);
    refuse('ts: 1765000000 looks like epoch seconds (...), not milliseconds (...)');
    refuse('ts: "2026-12-07T10:00:00" has no time zone; add Z or an offset', 3);
    refuse('ts: "2026-12-07T11:00:00" has no time zone; add Z or an offset');
    expect(reasonsText(reasons, 8)).toBe('8 ts: refused for 3 reasons (4 "2026-12-07T10:00:00" has no time zone; add Z or an offset (the first of several alike); ' +
      '3 "2026-01-0x" is not an ISO-8601 timestamp or epoch milliseconds (the first of several alike); 1 1765000000 looks like epoch seconds (...), not milliseconds (...))');
    // One reason with several values is that reason, not a split of one.
    const one: RejectionReasons = new Map();
    for (const v of ['"a"', '"b"']) countRejection(one, { field: 'n', reason: `n: expected an integer, got string ${v}` });
    expect(reasonsText(one, 2)).toBe('2 n: expected an integer, got string "a" (the first of several alike)');
    // A field's reasons beyond 20 are counted together, not kept (25 reasons: 20 kept, 5 counted as one).
    const many: RejectionReasons = new Map();
    for (let i = 0; i < 25; i++) countRejection(many, { field: 'f', reason: `f: reason ${'x'.repeat(i)}` });
    expect(reasonsText(many, 25)).toBe('25 f: refused for more than 20 reasons (5 (other reasons); 1 reason ; 1 reason x; and 18 more for 18 other reasons)');
  });

  it('the summary names the top three reasons with counts and what the others add up to', () => {
    const reasons = tally([[typo, 95], ['a', 2], ['b', 1], ['c', 1], ['d', 1]]);
    expect(reasonsText(reasons, 100)).toBe(`95 ${typo}; 2 a; 1 b; and 2 more for 2 other reasons`);
    expect(reasonsText(tally([[typo, 3]]), 3)).toBe(`3 ${typo}`);
    expect(reasonsText(new Map(), 0)).toBe('');
  });

  it('warns loudly when more than half of a schema\'s input was refused, naming the reason and what to check', () => {
    const reasons = tally([[typo, 95], ['a', 1]]);
    const warning = mostRefusedWarning({ unit: 'lines', read: 100, deadLetters: 96, reasons, schema: 'access', pipelines: ['errors_per_path_1m'] });
    expect(warning).toBe(`!! 96 of 100 lines (96%) of schema access went to the dead letters, 95 of them for: ${typo}. ` +
      'Check the schema\'s fields, paths and aliases against the events (`concord explain --pipeline errors_per_path_1m` shows where each field is read from, ' +
      '`concord validate` checks the definitions file); a required field the events carry elsewhere refuses nearly every event');
  });

  it('says so when most of the input is no JSON at all: the schema is not what to check', () => {
    const reasons: RejectionReasons = new Map();
    for (let i = 0; i < 40; i++) countRejection(reasons, { field: null, reason: `malformed JSON: Unexpected token 'o', "o${i},c1"... is not valid JSON` });
    const warning = mostRefusedWarning({ unit: 'lines', read: 40, deadLetters: 40, reasons, schema: 'orders', pipelines: ['revenue'] });
    expect(warning).toBe('!! 40 of 40 lines (100%) of schema orders went to the dead letters, 40 of them for: malformed JSON (lines that are not JSON; ' +
      'the first: Unexpected token \'o\', "o0,c1"... is not valid JSON). The input is not JSON lines, one JSON object per line: a CSV file, ' +
      'one JSON array or pretty-printed JSON? Give it as JSON lines (a JSON array: `jq -c \'.[]\' FILE`)');
  });

  it('says nothing for half or less, nor for fewer events than it judges', () => {
    const reasons = tally([[typo, 50]]);
    expect(mostRefusedWarning({ unit: 'records', read: 100, deadLetters: 50, reasons, schema: 's', pipelines: [] })).toBeNull();
    expect(mostRefusedWarning({ unit: 'lines', read: MIN_JUDGED - 1, deadLetters: MIN_JUDGED - 1, reasons, schema: 's', pipelines: [] })).toBeNull();
  });
});
