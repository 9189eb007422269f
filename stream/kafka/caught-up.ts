import { committedOffsets, endOffsets } from './admin.ts';
import type { KafkaSettings } from './common.ts';
import { sessionTimeoutMs } from './consume-options.ts';
import { afterSessionWait, type PartitionHolder } from './group-members.ts';

/** After a member's session timeout, how long the group's rebalance may take to hand its partitions on. */
export const REBALANCE_MARGIN_MS = 5_000;

/** The group a bounded run reads in, for the partitions of its topic it does not hold (`CaughtUpWatch.finished`). */
export interface GroupReading {
  groupId: string;
  /**
   * Every record of the topic is written in a transaction (Concord's own topics: results, late,
   * watermarks, partials): it ends with a transaction marker, so a member that committed the offset after
   * its last record (end - 1) has read it all. Unknown input topics: false, only an offset at the end counts.
   */
  transactional?: boolean;
  /** Said once per assignment: what the run waits for, and when it leaves partitions to a live member. */
  log?: (line: string) => void;
  /**
   * Who holds each partition now (the merge stage: group-members.ts). Given, a bounded holder is waited
   * for past the session timeout (it finishes them, or dies and the group hands them here); absent, every
   * holder still there after the session timeout is left its partitions.
   */
  holders?: () => Promise<Map<number, PartitionHolder>>;
  /** This member's worker id: partitions the coordinator already gives it are waited for. */
  workerId?: string;
}

/**
 * "Caught up and quiet", the one check every Kafka reader uses to end a bounded run (`--stop-when-idle D`,
 * the merge stage's `stopWhenCaughtUp`) and to tell a stalled consumer: no record for D, and every
 * partition it reads read to the end of its topic.
 *
 * Its owner says what "read" means by the positions it feeds: the archiver and the store sink feed fetch
 * positions (the consumer's `onPosition`: what they fetched is theirs to write); the stream worker and
 * the merge stage feed the batches they processed (InBatch.next with ConsumeOptions.markerBatches),
 * because their fetch position runs ahead of what they processed (fed it, two workers drained early).
 *
 * Either way a position counts transaction markers, not only the last record's offset + 1: a
 * transaction's commit marker takes an offset, so a topic written by a transactional producer (Kafka
 * Streams or Flink exactly-once, Concord's own outputs) ends one offset past its last record. Checked on
 * records alone, such a topic was never read to its end: the archiver never stopped.
 */
export class CaughtUpWatch {
  private lastRecordAt = Date.now();
  /**
   * Per topic, since when (this assignment) it has waited on partitions held elsewhere: a member that was
   * gone by then is out of the group a session timeout later, and its partitions are handed here.
   */
  private readonly waitingSince = new Map<string, number>();
  /** Per topic, the bounded holders last said to be waited for (said again only when they change). */
  private readonly waitingFor = new Map<string, string>();
  /** `topic:partition` -> the next offset to read. */
  private readonly positions = new Map<string, number>();

  /** `quietMs`: the quiet time of `--stop-when-idle` (none: the run is unbounded). */
  constructor(private readonly settings: KafkaSettings, readonly quietMs?: number) {}

  /** The group assigned this member its partitions (any change of membership). */
  assigned(): void {
    this.waitingSince.clear();
    this.waitingFor.clear();
  }

  /** Records arrived (a batch that holds any); also restarts the quiet time after a consumer is replaced. */
  heard(now = Date.now()): void {
    this.lastRecordAt = now;
  }

  /** The next offset to read of a partition: a fetch position, or the offset after what was processed. Never moves back (see `forget`). */
  position(topic: string, partition: number, next: number): void {
    const key = `${topic}:${partition}`;
    if (next > (this.positions.get(key) ?? -1)) this.positions.set(key, next);
  }

  /** The position of a partition (undefined: none since it was last forgotten). */
  next(topic: string, partition: number): number | undefined {
    return this.positions.get(`${topic}:${partition}`);
  }

  /**
   * A partition handed away, or a membership that ended (no arguments: every partition): its position no
   * longer holds, it may come back at an earlier offset.
   */
  forget(topic?: string, partition?: number): void {
    if (topic === undefined || partition === undefined) this.positions.clear();
    else this.positions.delete(`${topic}:${partition}`);
  }

  /** Milliseconds since the last record (or since the watch started). */
  silentMs(now = Date.now()): number {
    return now - this.lastRecordAt;
  }

  /** No record for the quiet time (never true without one). */
  quiet(now = Date.now()): boolean {
    return this.quietMs !== undefined && this.silentMs(now) >= this.quietMs;
  }

  /**
   * Every one of `partitions` read to the end of `topic`; by default every partition the topic has
   * (one never read counts from offset 0, so it must be empty).
   */
  async caughtUp(topic: string, partitions?: Iterable<number>): Promise<boolean> {
    const ends = await endOffsets(this.settings, topic);
    for (const p of partitions ?? ends.keys()) if ((this.next(topic, p) ?? 0) < (ends.get(p) ?? 0)) return false;
    return true;
  }

  /**
   * The end of a bounded run: every partition of `topic` done by the group. `own` (this member's) read
   * to their end (`caughtUp`); each other one either committed by the group to its end, or still held
   * by another member a session timeout (+ REBALANCE_MARGIN_MS) after this member, done with its own,
   * began to wait on it (any assignment meanwhile starts the wait again).
   *
   * Checking `own` alone was not enough: a member killed while it held partitions keeps them until its
   * session times out, and a bounded run done with its share exited 0 without them (a restarted archiver
   * archived 21,929 of 45,000 records). The group hands a dead member's partitions on at the rebalance
   * after its session timeout; a member that still holds them after that was alive then: it is a live
   * member's (an unbounded `run`, `sink` or archiver alongside) to finish, and waiting for its commit
   * could be for ever. A single member holds every partition and never waits; two bounded members do not
   * wait on each other once the other committed its partitions to their end.
   *
   * Not for stream workers: their end is a drain (every open window fires) that no offset shows, so two
   * bounded workers would wait on each other the whole time on every run. They wait on the drain
   * reports instead (stream/group-drain.ts), with the same session-timeout bound.
   */
  async finished(topic: string, own: Iterable<number>, group: GroupReading, now = Date.now()): Promise<boolean> {
    const mine = new Set(own);
    if (!(await this.caughtUp(topic, mine))) return false;
    const ends = await endOffsets(this.settings, topic);
    const others = [...ends].filter(([p, end]) => !mine.has(p) && end > 0);
    if (others.length === 0) return true;
    const committed = await committedOffsets(this.settings, group.groupId, topic);
    const slack = group.transactional ? 1 : 0;
    const open = others.filter(([p, end]) => (committed.get(p) ?? 0) < end - slack).map(([p]) => p).sort((a, b) => a - b);
    if (open.length === 0) return true;
    const waitMs = sessionTimeoutMs() + REBALANCE_MARGIN_MS;
    const list = `[${open.join(', ')}]`;
    const since = this.waitingSince.get(topic);
    if (since === undefined) {
      this.waitingSince.set(topic, now);
      group.log?.(`caught up on partitions [${[...mine].sort((a, b) => a - b).join(', ')}] of ${topic}; partitions ${list} are another member's, not committed to their end: ` +
        `waiting up to ${Math.ceil(waitMs / 1000)} s for the group to hand them here should that member be gone (its session timeout)`);
      return false;
    }
    if (now - since < waitMs) return false;
    const after = group.holders ? afterSessionWait(open, await group.holders().catch(() => undefined), group.workerId) : { verdict: 'leave' as const, names: undefined };
    if (after.verdict === 'self' || after.verdict === 'rebalancing') return false;
    if (after.verdict === 'bounded') {
      if (this.waitingFor.get(topic) !== after.names) {
        this.waitingFor.set(topic, after.names);
        group.log?.(`partitions [${after.partitions.join(', ')}] of ${topic} are held by ${after.names}, bounded (--stop-when-idle): waiting for it to finish them, ` +
          'or for the group to hand them here should it be gone');
      }
      return false;
    }
    group.log?.(`partitions ${list} of ${topic} are still held by ${after.names ?? 'another member'} of group ${group.groupId} after its session timeout: a live member's, left to it`);
    return true;
  }
}
