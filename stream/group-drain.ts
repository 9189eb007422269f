import { endOffsets, FollowedTopic, REBALANCE_MARGIN_MS, sessionTimeoutMs, type KafkaSettings } from './kafka/client.ts';
import { afterSessionWait, partitionHolders, type PartitionHolder } from './kafka/group-members.ts';
import { decodeWatermarkReport, legacyPartitionReportKey, partitionReportKey } from './watermark-reports.ts';

export interface GroupDrainOptions {
  settings: KafkaSettings;
  /** The watermarks topic: a drain reports each partition there, with its group and input offset. */
  watermarks: string;
  groupId: string;
  /** The input topic. */
  topic: string;
  /** The worker's pipelines and their definition versions: a partition counts as drained once each of them drained it. */
  pipelines: readonly { name: string; version: string }[];
  log: (line: string) => void;
  /** This worker's id: partitions the coordinator already gives it are waited for (the assignment is on its way). */
  workerId?: string;
  /** Who holds each partition of the topic in the group now (default: asked of the group coordinator). */
  holders?: () => Promise<Map<number, PartitionHolder>>;
}

/**
 * The end of a bounded run for a stream worker's whole group, not only for the partitions it holds.
 * A worker's end is its drain (every open window fires), which no committed offset shows; the drain's
 * transaction reports each partition drained with the group and how far its input was read (the
 * watermarks topic, stream/watermark-reports.ts). A partition is done when every pipeline reports it
 * drained by this group with its input read to the end the topic has now: a report of an earlier run
 * still counts while no record came after it (its windows fired then, the results stand), and stops
 * counting once new input arrives (the next run must process it).
 *
 * A bounded worker done with its own partitions waits for the others: a live sibling drains them soon
 * (so two healthy bounded workers do not wait on each other); a killed one's are handed here by the
 * group after its session timeout, and this worker restores, reads and drains them. Partitions still
 * not drained a session timeout (+ REBALANCE_MARGIN_MS) after the wait began, with no assignment
 * meanwhile, are held by a live member: one that does not drain (an unbounded `run`) is left them, named.
 * A bounded holder is waited for as long as it holds them: it drains them, or it dies and the group hands
 * them here. That it was alive a session timeout ago proves nothing about now (killed in the wait's last
 * seconds, its partitions were never drained, and this worker exited 0 saying "a live member's"). A worker
 * the group gave no partition (more members than partitions) is done with its share once idle, and
 * waits the same way, as a Kafka Streams instance without tasks stays a member until the others end.
 *
 * The watermarks topic is followed by one consumer from the first question on (FollowedTopic): each
 * tick reads only the reports written since the last.
 */
export class GroupDrain {
  /** Since when (this assignment) this worker has waited on partitions held elsewhere. */
  private waitingSince: number | undefined;
  /** The bounded holders last said to be waited for (said again only when they change). */
  private waitingFor = '';
  /** The watermarks topic, followed from the first question on (read every tick while waiting: read once, then what is new). */
  private reports: Promise<FollowedTopic> | undefined;

  constructor(private readonly o: GroupDrainOptions) {}

  /** What the consumer following the watermarks topic read so far (none opened yet: undefined). */
  async reads(): Promise<FollowedTopic['stats'] | undefined> {
    return (await this.reports)?.stats;
  }

  /** Closes the consumer following the watermarks topic. */
  async close(): Promise<void> {
    const reports = this.reports;
    this.reports = undefined;
    await (await reports?.catch(() => undefined))?.close();
  }

  /** The group assigned this worker its partitions: the wait starts again. */
  assigned(): void {
    this.waitingSince = undefined;
    this.waitingFor = '';
  }

  /** The partitions of the input this group drained with all their input read. */
  async drained(): Promise<{ drained: Set<number>; open: number[] }> {
    const { settings, watermarks, topic, groupId, pipelines } = this.o;
    this.reports ??= FollowedTopic.open(settings, watermarks).catch((error: unknown) => {
      this.reports = undefined;
      throw error;
    });
    const followed = await this.reports;
    const [ends, reports] = await Promise.all([endOffsets(settings, topic), followed.current()]);
    const drained = new Set<number>(), open: number[] = [];
    const drainedHere = (p: number, end: number, name: string, version: string): boolean => {
      // Until the group reports it under its own key, a report of an earlier release (key without the
      // group) counts, if this group drained.
      const key = [partitionReportKey(name, p, groupId), legacyPartitionReportKey(name, p)].find((k) => reports.has(k));
      if (key === undefined) return false;
      const r = decodeWatermarkReport(reports.get(key)!, `${watermarks} ${key}`);
      return r.type === 'partition' && r.drained && r.definition_version === version && r.drained_at?.group === groupId && r.drained_at.next >= end;
    };
    for (const [p, end] of [...ends].sort(([a], [b]) => a - b)) {
      // An empty partition too must be drained by its member: the merge stage waits for its drain report.
      const done = pipelines.every(({ name, version }) => drainedHere(p, end, name, version));
      if (done) drained.add(p);
      else open.push(p);
    }
    return { drained, open };
  }

  /** Says the group's end: every partition drained (`drained` found none open). */
  ended(): void {
    const { topic, groupId, log } = this.o;
    log(`every partition of ${topic} drained by group ${groupId}${this.waitingSince === undefined ? '' : ' (the other members drained theirs)'}`);
  }

  /**
   * After this worker's drain (`held`: it drained partitions of its own), or once a worker the group gave
   * no partition is idle, every tick: true once the run may end (see the class).
   */
  async finished(held = true, now = Date.now()): Promise<boolean> {
    const { open } = await this.drained();
    const { topic, groupId, log } = this.o;
    if (open.length === 0) {
      this.ended();
      return true;
    }
    const waitMs = sessionTimeoutMs() + REBALANCE_MARGIN_MS;
    const list = `[${open.join(', ')}]`;
    if (this.waitingSince === undefined) {
      this.waitingSince = now;
      const here = held ? 'drained the partitions held here' : 'holds no partition (the group has more members than partitions)';
      log(`${here}; partitions ${list} of ${topic} are not drained yet: waiting for their member to drain them, ` +
        `or up to ${Math.ceil(waitMs / 1000)} s for the group to hand them here should it be gone (its session timeout)`);
      return false;
    }
    if (now - this.waitingSince < waitMs) return false;
    const after = afterSessionWait(open, await this.holders(), this.o.workerId);
    // Mid-rebalance the coordinator may already name this worker: the assignment restarts the wait.
    if (after.verdict === 'self' || after.verdict === 'rebalancing') return false;
    if (after.verdict === 'bounded') {
      if (after.names !== this.waitingFor) {
        this.waitingFor = after.names;
        log(`partitions [${after.partitions.join(', ')}] of ${topic} are held by ${after.names}, bounded (--stop-when-idle): waiting for its drain, ` +
          'or for the group to hand them here should it be gone');
      }
      return false;
    }
    const who = after.names === undefined ? `another member of group ${groupId}` : `${after.names} of group ${groupId}`;
    log(`partitions ${list} of ${topic} are still held by ${who} after its session timeout, not drained: a live member's that runs ` +
      `without --stop-when-idle, left to it (their last windows fire when a bounded run of the group drains them: stop it with SIGTERM, ` +
      'then run `concord run --stop-when-idle` again with this group)');
    return true;
  }

  /** Who holds the topic's partitions now; undefined when the coordinator could not say (the wait ends as before). */
  private async holders(): Promise<Map<number, PartitionHolder> | undefined> {
    const { settings, groupId, topic, holders = () => partitionHolders(settings, groupId, topic) } = this.o;
    return holders().catch(() => undefined);
  }
}
