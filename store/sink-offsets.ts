import { ConcordError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import type { SqlDriver } from './sql-driver.ts';

/**
 * How far each sink group's reads of the workers' topics are in this store: the offset after the last
 * record of each partition a write held, written in that write's transaction (Kafka Connect's sinks keep
 * theirs in the target for the same reason). The group's committed offsets say how far the group read,
 * not what the store holds: a PostgreSQL schema restored from a backup (or a DuckDB file copied back)
 * under a sink that kept its group resumed past everything written since the backup, `0 results`, exit
 * 0 (found 2026-12-07: a backup two days old lost a day's 2,981 cells and 86 late events for good).
 */
export const SINK_OFFSETS_DDL = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.sink_offsets (group_id TEXT NOT NULL, topic TEXT NOT NULL,
  "partition" INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (group_id, topic, "partition"))`;

/** A write's offsets: group, and per `topic` and partition the offset after its last record. */
export interface SinkOffsets {
  groupId: string;
  next: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

export async function writeSinkOffsets(tx: SqlDriver, s: string, offsets: SinkOffsets | undefined): Promise<void> {
  if (offsets === undefined) return;
  for (const [topic, partitions] of offsets.next) {
    for (const [partition, next] of partitions) {
      await tx.execute(
        `INSERT INTO ${s}.sink_offsets (group_id, topic, "partition", next_offset) VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_id, topic, "partition") DO UPDATE SET next_offset = GREATEST(${s}.sink_offsets.next_offset, EXCLUDED.next_offset)`,
        [offsets.groupId, topic, partition, next]);
    }
  }
}

export async function readSinkOffsets(db: SqlDriver, s: string, groupId: string): Promise<Map<string, Map<number, number>>> {
  const out = new Map<string, Map<number, number>>();
  for (const r of await db.query(`SELECT topic, "partition" AS p, next_offset AS n FROM ${s}.sink_offsets WHERE group_id = $1`, [groupId])) {
    const topic = String(r.topic);
    if (!out.has(topic)) out.set(topic, new Map());
    out.get(topic)!.set(Number(r.p), Number(r.n));
  }
  return out;
}

/**
 * Refuses a group that committed past what this store holds of its reads: the store was restored from a
 * backup (or is another store the group wrote into with the same schema), and resuming would leave it
 * without the records in between. A partition the store has no offset of (the store was written before
 * this table, or the group read nothing of it yet) is not judged: returned, with the group's offset, for
 * the caller to record as the store's starting point (else a partition whose first records came after an
 * upgrade read as "held to 0" and refused the same store at its next start; found walking it). An empty
 * store is refused by sink-group-check.ts.
 */
export async function refuseStoreBehindGroup(
  groupId: string, storedOffsets: () => Promise<ReadonlyMap<string, ReadonlyMap<number, number>>>, committed: ReadonlyMap<string, ReadonlyMap<number, number>>,
): Promise<SinkOffsets | undefined> {
  // A group that committed nothing (a new one) asks the store nothing: a sink started while the store
  // is away waits for it at its first write (store-outage.ts), not at its start.
  if (![...committed.values()].some((offsets) => [...offsets.values()].some((next) => next > 0))) return undefined;
  const stored = await storedOffsets();
  const behind: string[] = [];
  const unknown = new Map<string, Map<number, number>>();
  for (const [topic, offsets] of committed) {
    for (const [partition, next] of offsets) {
      const held = stored.get(topic)?.get(partition);
      if (held === undefined) {
        if (next > 0) unknown.set(topic, (unknown.get(topic) ?? new Map<number, number>()).set(partition, next));
      } else if (next > held) {
        behind.push(`${topic}:${partition} to ${held} (the group committed ${next})`);
      }
    }
  }
  if (behind.length > 0) {
    throw new ConcordError(
      `this store holds sink group ${groupId}'s reads of ${behind.join(', ')}: it is older than its group ` +
        '(restored from a backup, or copied back), and the group would resume past the records in between, leaving the store without them. ' +
        `Read the topics again from their start under a new group (writes are guarded by revision: what the store holds is unchanged): --group ${shellWord(`${groupId}-rebuild`)} ` +
        '(docs/operations.md, "Recovering: the store was lost")',
      { domain: 'user' },
    );
  }
  return unknown.size > 0 ? { groupId, next: unknown } : undefined;
}
