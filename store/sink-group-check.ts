import { ConcordError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import type { SqlResultStore } from './sql-store.ts';

/**
 * Refuses a sink group that already read the workers' topics into another store. A sink resumes at its
 * group's committed offsets, and those say how far the group read, not into which store: a user who
 * sank into an embedded DuckDB store and then into PostgreSQL with the default group got an empty
 * PostgreSQL store, "0 results", exit 0 (found 2026-12-06). A store that holds nothing at all beside a
 * group that read records is that case; the archiver refuses the same mix-up by its markers
 * (docs/operations.md, "The archiver").
 * `committed`: the group's committed offset per partition of each topic it reads.
 */
export async function refuseGroupOfAnotherStore(
  store: SqlResultStore, groupId: string, committed: ReadonlyMap<string, ReadonlyMap<number, number>>,
): Promise<void> {
  const read = [...committed].flatMap(([topic, offsets]) => {
    const byPartition = [...offsets].sort(([a], [b]) => a - b);
    return byPartition.some(([, next]) => next > 0) ? [`${topic} (to offsets ${byPartition.map(([, next]) => next).join(', ')} of partitions ${byPartition.map(([p]) => p).join(', ')})`] : [];
  });
  if (read.length === 0 || !(await store.holdsNoStreamOutput())) return;
  throw new ConcordError(
    `sink group ${groupId} has already read ${read.join(' and ')}, but this store holds no result, late event or watermark: ` +
      'the group wrote those into another store, or into this one before it was lost (a DuckDB file deleted, a schema dropped), ' +
      'and would resume past them here, leaving this store without them. ' +
      `Give each store a group of its own, which reads the topics from their start: --group ${shellWord(`${groupId}-${store.backend}`)} ` +
      '(a store rebuilt after a loss: docs/operations.md, "Recovering: the store was lost")',
    { domain: 'user' },
  );
}
