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

/**
 * Moves a partition's offset from `from` to `to` only where the store still holds `from` (a sink's own
 * last offset there): a store restored or written by another member meanwhile is left as it is.
 */
export async function advanceSinkOffset(db: SqlDriver, s: string, groupId: string, move: { topic: string; partition: number; from: number; to: number }): Promise<void> {
  await db.execute(`UPDATE ${s}.sink_offsets SET next_offset = $1 WHERE group_id = $2 AND topic = $3 AND "partition" = $4 AND next_offset = $5`,
    [move.to, groupId, move.topic, move.partition, move.from]);
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

type Offsets = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** A partition the sink reads from the store's offset, not its group's: `from` (the store's), `committed` (the group's, if any). */
export interface SinkSeek {
  topic: string;
  partition: number;
  from: number;
  committed: number | undefined;
}

/** How a sink group resumes against its store: see `planSinkResume`. */
export interface SinkResume {
  /** Partitions whose store offset differs from the group's: the group is moved there before it joins. */
  seeks: SinkSeek[];
  /** Partitions the store has no offset of: recorded as the store's starting point (the group's offset, or the log start). */
  starting: SinkOffsets | undefined;
}

/**
 * How a sink group resumes against the store it writes, the store's offsets being the truth (as Kafka
 * Connect's JDBC and Iceberg sinks keep theirs in the target): a partition the store holds an offset of is
 * read from there, also when the group committed past it (a backup restored: the records since are written
 * again, revision-guarded) or behind it (a write committed before its offsets were: not written twice).
 * Refused (exit 2) when a topic no longer holds the store's offset: retention deleted records the store
 * never got. A gap of one offset is not a loss: Concord's topics are written in transactions, and the offset
 * after the last record the store read is the commit marker of its transaction (a partition idle past its
 * retention is emptied to its end, that marker included). The sink records its consumer's position past
 * the markers too (sink-positions.ts); this guess is left for a sink killed before it did, and is wrong
 * both ways there (docs/operations.md, "Recovering: the store was lost").
 * A partition the store has no offset of (the store was written before the release that records them, the
 * dead-letter topic before 2026-12-07 afternoon, or a partition the group never read) is not judged: its
 * starting point is recorded, the group's offset or else the log start, so a backup taken after this start
 * knows every partition. `logStarts`: each partition's first offset still held, per topic read.
 */
export function planSinkResume(groupId: string, stored: Offsets, committed: Offsets, logStarts: Offsets): SinkResume {
  const seeks: SinkSeek[] = [];
  const lost: string[] = [];
  const starting = new Map<string, Map<number, number>>();
  for (const [topic, starts] of logStarts) {
    for (const [partition, logStart] of [...starts].sort(([a], [b]) => a - b)) {
      const held = stored.get(topic)?.get(partition);
      const next = committed.get(topic)?.get(partition);
      if (held === undefined) {
        starting.set(topic, (starting.get(topic) ?? new Map<number, number>()).set(partition, next ?? logStart));
      } else if (held + 1 < logStart) {
        lost.push(`${topic}:${partition} offsets ${held} to ${logStart - 1} (${logStart - held} offsets)`);
      } else if (held !== next && !(next === undefined && held === logStart)) {
        // A group with no offset of a partition reads it from its log start (the sink's consumer starts at
        // the earliest): a store there needs no move. Taken for one, a dead-letter partition that never
        // held a record (so never committed) refused every sink joining its group's running sinks, exit 2.
        seeks.push({ topic, partition, from: held, committed: next });
      }
    }
  }
  if (lost.length > 0) {
    throw new ConcordError(
      `this store holds sink group ${groupId}'s reads to offsets the topics no longer hold: ${lost.join(', ')} were deleted by their retention ` +
        'before this store had them (a backup restored that is older than the topics\' retention, or a sink stopped for longer), and cannot be read again. ' +
        `Rebuild what the topics still hold under a new group, which reads them from their start (writes are guarded by revision: what the store holds is unchanged): --group ${shellWord(`${groupId}-rebuild`)}; ` +
        'then reconcile the days of the lost records from the archive (concord reconcile --date D --archive DIR; docs/operations.md, "Recovering: the store was lost")',
      { domain: 'user' },
    );
  }
  return { seeks, starting: starting.size > 0 ? { groupId, next: starting } : undefined };
}

/** The progress line of a resume from the store's offsets: from where, and how many offsets are read again or skipped. */
export function resumeMessage(groupId: string, seeks: readonly SinkSeek[]): string {
  const parts = seeks.map((s) => {
    const where = `${s.topic}:${s.partition} from ${s.from}`;
    if (s.committed === undefined) return `${where} (the group had no offset there)`;
    return s.committed > s.from
      ? `${where}, the group had read to ${s.committed} (${s.committed - s.from} offsets read and written again)`
      : `${where}, the group had committed ${s.committed} (${s.from - s.committed} offsets already in the store, not written again)`;
  });
  return `sink: resuming sink group ${groupId} from this store's offsets, not the group's: ${parts.join('; ')}`;
}
