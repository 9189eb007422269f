import { shellWord } from '../pipeline/names.ts';

/**
 * What to run for a day a pipeline has no reconciliation of (`/api/days/D/pipelines/P/report`'s 404), from
 * the definition versions of each version of the day (0: the stream's rows) and the one the definitions
 * served compute. `reconcile --date D` diffs the stream's rows against a replay of the same definition: it
 * refuses a day without stream rows (a pipeline added after it, backfilled in) and a day streamed under
 * another definition, so advising it there sends the reader to an exit 2.
 */
export function noReconciliationHint(day: string, pipeline: string, byVersion: ReadonlyMap<number, ReadonlyMap<string, number>>, given: string): string {
  const p = shellWord(pipeline);
  const stream = [...(byVersion.get(0)?.keys() ?? [])];
  const recompute = `\`concord backfill --from ${day} --to ${day} --pipeline ${p} --archive DIR\``;
  if (stream.length === 0 && [...byVersion.keys()].some((v) => v > 0)) {
    return `the stream wrote no rows of ${day} for ${pipeline} (a pipeline added after that day?): its rows were recomputed from the archive, ` +
      'and there are no realtime numbers to reconcile';
  }
  const other = stream.filter((v) => v !== given);
  if (other.length > 0) {
    return `the stream's rows of ${day} were computed by definition version ${other.join(' and ')}, the definitions served compute ${given}: ` +
      `run \`concord reconcile --date ${day} --pipeline ${p} --archive DIR\` with the definitions of ${other.join(' and ')}, or recompute the day under these with ${recompute}`;
  }
  return `run \`concord reconcile --date ${day} --archive DIR\` (or \`concord jobs enqueue --date ${day}\`)`;
}
