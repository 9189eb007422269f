import type { CaughtUpWatch } from './kafka/client.ts';
import type { PartitionsAddedWatch } from './kafka/partitions-added.ts';
import type { MemberLoop } from './member-loop.ts';
import type { WorkerPartitions } from './worker-partitions.ts';
import type { WorkerSteps } from './worker-steps.ts';
import type { WorkerTransactions } from './worker-transactions.ts';
import { envNumber } from '../pipeline/env-number.ts';

/** No record for this long while assigned partitions have unread ones: the consumer is replaced (env CONCORD_KAFKA_STALL_MS). */
function stalledAfterMs(): number {
  return envNumber('CONCORD_KAFKA_STALL_MS', 30_000, { min: 1, unit: 'milliseconds' });
}

export interface WorkerTickOptions {
  /** The input topic. */
  topic: string;
  loop: MemberLoop;
  transactions: WorkerTransactions;
  partitions: WorkerPartitions;
  steps: WorkerSteps;
  /** Caught up and quiet, from the batches processed (see the worker's watch). */
  watch: CaughtUpWatch;
  /** A partition that delivers nothing for this long stops holding the watermark (default 30 s). */
  idleTimeoutMs?: number;
  /** The input topic's partition count since start: partitions added stop the worker (a restart reads them). */
  added: PartitionsAddedWatch;
  /** The worker's group, for what to do when partitions were added. */
  groupId: string;
  /** Drops every partition's state and replaces the consumer after the step in flight. */
  rejoin: () => void;
  /**
   * With `stopWhenIdleMs`, after each drain and, while it holds no partition to read, every tick once it
   * drained (GroupDrain): the worker stops when the group drained every partition.
   */
  drained: () => Promise<void>;
  /** A bounded worker that holds only partitions its group drained, or none and is idle: it waits for the group's end. */
  waiting: () => boolean;
  log: (line: string) => void;
}

/**
 * A stream worker's clock, every 500 ms inside its member loop: quiet partitions are marked idle (the
 * firing W may move), a consumer that went silent while partitions have unread records is replaced, and
 * with `stopWhenIdleMs` a worker caught up and quiet drains, and stops once its group drained every
 * partition (GroupDrain).
 */
export class WorkerTick {
  private timer: NodeJS.Timeout | undefined;
  /** When the stall check last asked for end offsets (at most once per stall period). */
  private stallCheckedAt = 0;

  /** Read once at start: a bad CONCORD_KAFKA_STALL_MS is said before the worker runs, not at a tick. */
  private readonly stallMs = stalledAfterMs();

  constructor(private readonly o: WorkerTickOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.o.loop.exclusive(() => this.tick()).catch((error) => this.o.loop.fail(error));
    }, 500);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Every 500 ms: mark quiet partitions idle (W may move), and stop when idle if asked. */
  private async tick(): Promise<void> {
    const { loop, partitions, watch } = this.o;
    if (loop.stopping || !(await this.o.transactions.settled())) return;
    const now = Date.now();
    await this.o.added.check(`restart every \`concord run\` of group ${this.o.groupId} (a supervisor does) to read the new ones; ` +
      "a key's later records may go to another partition, so its windows open at the change are counted in two shares until `reconcile --date` corrects the day", now);
    if (partitions.markIdle(now, this.o.idleTimeoutMs ?? 30_000)) await this.o.steps.step();
    // Seen a few times in ~20 loaded test runs: the client stopped fetching one partition that still had
    // records (all others read to their end). Every step commits, so a fresh consumer loses nothing.
    const stall = this.stallMs;
    if (watch.silentMs(now) >= stall && now - this.stallCheckedAt >= stall && partitions.size > 0 && ((this.stallCheckedAt = now), !(await this.caughtUp()))) {
      this.o.log(`no records for ${Math.round(watch.silentMs(now) / 1000)} s although partitions have unread records: rejoining with a fresh consumer`);
      watch.heard(now);
      this.o.rejoin();
      return;
    }
    if (watch.quiet(now) && partitions.size > 0 && (await this.caughtUp())) {
      // A refused drain (fenced meanwhile) is not the end: the next assignment restores and drains again.
      if (await this.o.steps.drain()) await this.o.drained();
    } else if (partitions.size === 0 && this.o.waiting()) await this.o.drained();
  }

  /** Every assigned partition processed to the end of the input topic. */
  private caughtUp(): Promise<boolean> {
    return this.o.watch.caughtUp(this.o.topic, this.o.partitions.keys());
  }
}
