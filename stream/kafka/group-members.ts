/** Who in a consumer group holds which partition of a topic, and whether that member ends by itself. */
import { Admin } from '@platformatic/kafka';
import { baseOptions, wrapRead, type KafkaSettings } from './common.ts';

/** A stream worker's Kafka client id: a bounded one (`run --stop-when-idle`) says so, for its siblings to see. */
export function workerClientId(workerId: string, bounded: boolean): string {
  return bounded ? `${BOUNDED_CLIENT}${workerId}` : `concord-run-${workerId}`;
}

const BOUNDED_CLIENT = 'concord-run-bounded-';

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
        const holder = { name, host: member.clientHost.replace(/^\//, ''), bounded: member.clientId.startsWith(BOUNDED_CLIENT) };
        for (const p of member.assignments?.get(topic)?.partitions ?? []) out.set(p, holder);
      }
      return out;
    } finally {
      await admin.close().catch(() => undefined);
    }
  });
}
