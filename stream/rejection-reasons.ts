import { rejectionText, type DeadLetter } from '../schemas/results.ts';

/**
 * Dead letters counted per reason, for the summaries and progress lines: a misspelt path of a required
 * field refuses most events for one reason, which the first rejection alone does not show.
 */
export type RejectionReasons = Map<string, number>;

/** Distinct reasons kept: reasons quoting values (malformed JSON at a position) would grow without end. */
const MAX_REASONS = 100;
/** Where the dead letters of reasons beyond MAX_REASONS are counted. */
export const OTHER_REASONS = '(other reasons)';

export function countRejection(reasons: RejectionReasons, reason: string): void {
  const known = reasons.get(reason);
  if (known !== undefined) reasons.set(reason, known + 1);
  else if (reasons.size < MAX_REASONS) reasons.set(reason, 1);
  else reasons.set(OTHER_REASONS, (reasons.get(OTHER_REASONS) ?? 0) + 1);
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
  countRejection(counts.rejectionReasons, d.reason);
}

/** The most frequent reasons first (ties in the order first met), at most `n`. */
export function topReasons(reasons: RejectionReasons, n: number): Array<[reason: string, count: number]> {
  return [...reasons].sort((a, b) => b[1] - a[1]).slice(0, n);
}
