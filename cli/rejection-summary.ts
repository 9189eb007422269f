import { shellWord } from '../pipeline/names.ts';
import { countsText, groupText, isMalformedJson, topGroups, type RejectionReasons } from '../stream/rejection-reasons.ts';

/** What input that is mostly no JSON likely is, and how to make JSON lines of it (this summary's and `produce`'s). */
export const JSON_LINES_ADVICE = 'one JSON object per line: a CSV file, one JSON array or pretty-printed JSON? ' +
  'Give it as JSON lines (a JSON array: `jq -c \'.[]\' FILE`)';

/** Below this many events read no share is judged (a few bad lines of a short test file are not "most"). */
export const MIN_JUDGED = 20;

/** "3883 user_id: is required (...); 2 malformed JSON: ...; and 5 more for 4 other reasons", or '' without dead letters. */
export function reasonsText(reasons: RejectionReasons, deadLetters: number): string {
  if (reasons.size === 0) return '';
  return countsText([...reasons.values()].map((g) => ({ text: groupText(g), count: g.count })), deadLetters);
}

export interface RefusedInput {
  /** What was read: lines of a file, records of a topic. */
  readonly unit: 'lines' | 'records';
  readonly read: number;
  readonly deadLetters: number;
  readonly reasons: RejectionReasons;
  readonly schema: string;
  /** The pipelines reading the schema, for the `concord explain` hint. */
  readonly pipelines: readonly string[];
}

/**
 * A loud warning when most of the input went to the dead letters (more than half, after MIN_JUDGED):
 * the run still succeeds (dead letters are an outcome, not a failure), so this is what tells a user
 * that a misspelt path or alias emptied the results. Null when the share is small.
 */
export function mostRefusedWarning(r: RefusedInput): string | null {
  if (r.read < MIN_JUDGED || r.deadLetters * 2 <= r.read) return null;
  const [top] = topGroups(r.reasons, 1);
  const share = Math.round((100 * r.deadLetters) / r.read);
  const reason = top === undefined ? '' : `, ${top.count} of them for: ${groupText(top)}`;
  const head = `!! ${r.deadLetters} of ${r.read} ${r.unit} (${share}%) of schema ${r.schema} went to the dead letters${reason}. `;
  // Most of the input no JSON at all: the schema is not what to check.
  if (top !== undefined && isMalformedJson(top) && top.count * 2 > r.deadLetters) {
    return head + `The input is not JSON lines, ${JSON_LINES_ADVICE}`;
  }
  const explain = r.pipelines[0] !== undefined ? `\`concord explain --pipeline ${shellWord(r.pipelines[0])}\` shows where each field is read from, ` : '';
  return head +
    `Check the schema's fields, paths and aliases against the events (${explain}\`concord validate\` checks the definitions file); ` +
    'a required field the events carry elsewhere refuses nearly every event';
}
