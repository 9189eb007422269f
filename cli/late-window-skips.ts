/**
 * A hopping pipeline's window assignments skipped as late, beside the events late for all of their windows
 * (`late`, unchanged): an event late for its older windows only is taken by the newer ones and skipped in
 * the older ones quietly (Flink counts these per assignment, numLateRecordsDropped). A line of its own
 * under the summary of `stream` and of `run`, whose wording scripts match; null when none was skipped
 * (callers count hopping pipelines only: with tumbling windows and rules the two counts are the same).
 */
export function lateWindowSkipsLine(skips: number): string | null {
  if (skips === 0) return null;
  return `  late for some windows: a hopping window skipped a late event ${skips} ${skips === 1 ? 'time' : 'times'} ` +
    '(an event late for some of its windows only is counted in the others, and not in "late")';
}
