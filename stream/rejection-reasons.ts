import { rejectionText, type DeadLetter } from '../schemas/results.ts';

/**
 * Dead letters counted per reason, for the summaries and progress lines: a misspelt path of a required
 * field refuses most events for one reason, which the first rejection alone does not show. Reasons that
 * quote the line (malformed JSON at a position, a field's value) are counted together: per field, and all
 * malformed JSON as one; otherwise a CSV file read as JSON lines gave as many reasons as lines, each
 * counted once, and the summary named none of them (`99 (other reasons); 1 malformed JSON: ...`).
 */
export type RejectionReasons = Map<string, ReasonGroup>;

/** The dead letters of one group: how many, the first one's reason, and whether the others said something else. */
export interface ReasonGroup {
  count: number;
  first: string;
  varied: boolean;
  /** What the dead letters share: a field (its name), being no JSON, or the reason's words apart from numbers. */
  readonly kind: 'field' | 'json' | 'reason';
  readonly field?: string;
}

/** Groups kept: beyond, the dead letters are counted under OTHER_REASONS. */
const MAX_REASONS = 100;
/** Where the dead letters of groups beyond MAX_REASONS are counted. */
export const OTHER_REASONS = '(other reasons)';
const MALFORMED_JSON = 'malformed JSON';

/** The group a dead letter is counted in (see RejectionReasons). */
function groupOf(d: Pick<DeadLetter, 'field' | 'reason' | 'reference'>): { key: string; kind: ReasonGroup['kind']; field?: string } {
  // The time quarantine names its own reason (future_timestamp, past_horizon), apart from the time field's parse errors.
  if (d.reference !== undefined) return { key: `quarantine ${d.reason}`, kind: 'reason' };
  if (d.field !== null) return { key: `field ${d.field}`, kind: 'field', field: d.field };
  if (d.reason.startsWith(`${MALFORMED_JSON}:`)) return { key: MALFORMED_JSON, kind: 'json' };
  // A line over the limit says its size: one group whatever the number.
  return { key: d.reason.replace(/\d[\d,]*/g, '#'), kind: 'reason' };
}

export function countRejection(reasons: RejectionReasons, d: Pick<DeadLetter, 'field' | 'reason' | 'reference'>): void {
  const { key, ...group } = groupOf(d);
  const known = reasons.get(key);
  if (known !== undefined) {
    known.count++;
    known.varied ||= known.first !== d.reason;
  } else if (reasons.size < MAX_REASONS) {
    reasons.set(key, { count: 1, first: d.reason, varied: false, ...group });
  } else {
    const other = reasons.get(OTHER_REASONS);
    if (other) other.count++;
    else reasons.set(OTHER_REASONS, { count: 1, first: OTHER_REASONS, varied: false, kind: 'reason' });
  }
}

/** The dead-letter counters a run keeps: how many, the first one's place and reason, and per reason. */
export interface DeadLetterCounts {
  deadLetters: number;
  firstRejection: string | null;
  rejectionReasons: RejectionReasons;
}

/** Counts one dead letter in `counts` (the stream runtime's and a Kafka worker's admission alike). */
export function countDeadLetter(counts: DeadLetterCounts, d: DeadLetter): void {
  counts.deadLetters++;
  counts.firstRejection ??= rejectionText(d);
  countRejection(counts.rejectionReasons, d);
}

/** How a group is said: its reason, or when its dead letters said different things, what they share and the first. */
export function groupText(g: ReasonGroup): string {
  if (!g.varied) return g.first;
  if (g.kind === 'json') return `${MALFORMED_JSON} (lines that are not JSON; the first: ${g.first.slice(MALFORMED_JSON.length + 2)})`;
  if (g.kind === 'field') return `${g.field}: refused for several values or reasons (the first: ${g.first})`;
  return `${g.first} (the first of several alike)`;
}

/** The most frequent groups first (ties in the order first met), at most `n`: what each says and how many. */
export function topReasons(reasons: RejectionReasons, n: number): Array<[reason: string, count: number]> {
  return topGroups(reasons, n).map((g) => [groupText(g), g.count]);
}

/** The most frequent groups first, at most `n`. */
export function topGroups(reasons: RejectionReasons, n: number): ReasonGroup[] {
  return [...reasons.values()].sort((a, b) => b.count - a.count).slice(0, n);
}

/** Whether a group is the lines that are no JSON at all (a CSV file, a JSON array, pretty-printed JSON). */
export const isMalformedJson = (g: ReasonGroup): boolean => g.kind === 'json';
