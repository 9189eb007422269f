/** Who in a consumer group holds which partition of a topic, and whether that member ends by itself. */
import { Admin } from '@platformatic/kafka';
import { baseOptions, wrapRead, type KafkaSettings } from './common.ts';

/**
 * A stream worker's (`run`) or merge member's (`merge`) Kafka client id: a bounded one (`run
 * --stop-when-idle`) says so, for its siblings to see.
 */
export function workerClientId(workerId: string, bounded: boolean, role: 'run' | 'merge' = 'run'): string {
  return `concord-${role}-${bounded ? 'bounded-' : ''}${workerId}`;
}

const BOUNDED_CLIENT = /^concord-(run|merge)-bounded-/;

/** A member of a group that holds partitions of a topic. */
export interface PartitionHolder {
  /** `worker <worker id>` (from its static member id `concord-<group>-<worker id>`), else `client <client id>`. */
  readonly name: string;
  /** Where it runs, as the group coordinator saw its connection. */
  readonly host: string;
  /**
   * A bounded worker (`run --stop-when-idle`): it drains what it holds or dies, and a dead member's
   * partitions are handed on after its session timeout, so a sibling waiting for them never waits in vain.
   */
  readonly bounded: boolean;
}

/** The member of `groupId` that holds each partition of `topic` now (a partition in no assignment: absent). */
export async function partitionHolders(s: KafkaSettings, groupId: string, topic: string): Promise<Map<number, PartitionHolder>> {
  return wrapRead('describing the consumer group', s, async () => {
    const admin = new Admin(baseOptions(s, `${s.clientId}-admin`));
    try {
      const group = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
      const out = new Map<number, PartitionHolder>();
      for (const member of group?.members.values() ?? []) {
        const instance = member.groupInstanceId ?? '';
        const name = instance.startsWith(`concord-${groupId}-`) ? `worker ${instance.slice(`concord-${groupId}-`.length)}` : `client ${member.clientId}`;
        const holder = { name, host: member.clientHost.replace(/^\//, ''), bounded: BOUNDED_CLIENT.test(member.clientId) };
        for (const p of member.assignments?.get(topic)?.partitions ?? []) out.set(p, holder);
      }
      return out;
    } finally {
      await admin.close().catch(() => undefined);
    }
  });
}

/**
 * A bounded member's wait for partitions held elsewhere is over (a session timeout + margin, no
 * assignment): what the holders say. `self`: the coordinator already gives them to this worker (the
 * assignment is on its way); `bounded`: a bounded member holds these, wait for it (it ends them, or dies
 * and the group hands them on); `leave`: an unbounded member (or nobody the coordinator could name) holds
 * them, left to it. Holders unknown (the coordinator did not answer): `leave`, as before.
 */
export function afterSessionWait(open: readonly number[], holders: ReadonlyMap<number, PartitionHolder> | undefined, workerId?: string):
  { verdict: 'self' } | { verdict: 'rebalancing' } | { verdict: 'bounded'; partitions: number[]; names: string } | { verdict: 'leave'; names: string | undefined } {
  if (workerId !== undefined && open.some((p) => holders?.get(p)?.name === `worker ${workerId}`)) return { verdict: 'self' };
  const bounded = open.filter((p) => holders?.get(p)?.bounded === true);
  if (bounded.length > 0) return { verdict: 'bounded', partitions: bounded, names: describeHolders(bounded, holders!) };
  // A partition in no member's assignment, the coordinator answering: the group is rebalancing (a member
  // died and its session ended, the assignments are cleared until the next is synced), and the next
  // assignment hands it to a member, maybe this one. Taken for "held by another member", a bounded worker
  // whose sibling was SIGKILLed exited 0 with that sibling's partitions never drained.
  if (holders !== undefined && open.some((p) => !holders.has(p))) return { verdict: 'rebalancing' };
  return { verdict: 'leave', names: holders && open.every((p) => holders.has(p)) ? describeHolders(open, holders) : undefined };
}

/** "worker w3 (10.0.0.5)" for the members holding `partitions`, each once. */
function describeHolders(partitions: readonly number[], holders: ReadonlyMap<number, PartitionHolder>): string {
  const names = [...new Set(partitions.map((p) => holders.get(p)).filter((h) => h !== undefined).map((h) => `${h.name} (${h.host})`))];
  return names.join(', ');
}
