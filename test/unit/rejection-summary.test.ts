import { describe, expect, it } from 'vitest';
import { MIN_JUDGED, mostRefusedWarning, reasonsText } from '../../cli/rejection-summary.ts';
import { OTHER_REASONS, countRejection, topReasons, type RejectionReasons } from '../../stream/rejection-reasons.ts';

const tally = (counts: Array<[string, number]>): RejectionReasons => {
  const reasons: RejectionReasons = new Map();
  for (const [reason, n] of counts) for (let i = 0; i < n; i++) countRejection(reasons, reason);
  return reasons;
};
const typo = 'user_id: is required (nor at "usr.id": no "usr" in the event)';

describe('dead letters per reason', () => {
  it('counts each reason, most frequent first, and keeps a bounded number of reasons', () => {
    const reasons = tally([['malformed JSON', 1], [typo, 5], ['status: expected an integer', 2]]);
    expect(topReasons(reasons, 2)).toEqual([[typo, 5], ['status: expected an integer', 2]]);
    const many: RejectionReasons = new Map();
    for (let i = 0; i < 150; i++) countRejection(many, `malformed JSON at position ${i}`);
    expect(many.size).toBe(101);
    expect(many.get(OTHER_REASONS)).toBe(50);
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

  it('says nothing for half or less, nor for fewer events than it judges', () => {
    const reasons = tally([[typo, 50]]);
    expect(mostRefusedWarning({ unit: 'records', read: 100, deadLetters: 50, reasons, schema: 's', pipelines: [] })).toBeNull();
    expect(mostRefusedWarning({ unit: 'lines', read: MIN_JUDGED - 1, deadLetters: MIN_JUDGED - 1, reasons, schema: 's', pipelines: [] })).toBeNull();
  });
});
