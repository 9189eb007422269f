/** Topic and group administration: create topics, read metadata, configuration and offsets. */
import { Admin, ConfigResourceTypes, findErrorBy, ListOffsetTimestamps } from '@platformatic/kafka';
import { baseOptions, firstContactFailure, KafkaTopicMissingError, wrap, wrapRead, type KafkaSettings, type TopicSpec } from './common.ts';

async function withAdmin<T>(s: KafkaSettings, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(baseOptions(s, `${s.clientId}-admin`));
  try {
    return await fn(admin);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
  return meta.topics.get(topic)?.partitionsCount ?? 0;
}

async function listOffsets(admin: Admin, topic: string, timestamp: bigint): Promise<Map<number, number>> {
  const count = await partitionCount(admin, topic);
  if (count === 0) return new Map();
  const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }] });
  return new Map((listed?.partitions ?? []).map((p) => [p.partitionIndex, Number(p.offset)]));
}

/**
 * Polls until every partition of `topics` has a leader that answers. The controller acknowledges a new
 * topic before brokers know it: a broker just started with many logs to load answered "This server
 * does not host this topic-partition" for seconds, and metadata can list a leader before that leader
 * serves the partition. ListOffsets is answered by the leader itself, so a success for every
 * partition means the topic is ready.
 */
async function waitForLeaders(admin: Admin, topics: readonly TopicSpec[], deadlineMs = 30_000): Promise<void> {
  const started = Date.now();
  let last = '';
  for (;;) {
    try {
      const meta = await admin.metadata({ topics: topics.map((t) => t.name), forceUpdate: true });
      const waiting = topics.filter((t) => {
        const m = meta.topics.get(t.name);
        return !m || m.partitionsCount < t.partitions || m.partitions.some((p) => p.leader < 0);
      });
      if (waiting.length === 0) {
        for (const t of topics) await listOffsets(admin, t.name, ListOffsetTimestamps.LATEST);
        return;
      }
      last = `no leader yet for ${waiting.map((t) => t.name).join(', ')}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() - started > deadlineMs) throw new Error(`topics had no serving leaders within ${deadlineMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates missing topics; existing ones are left as they are (idempotent). Returns the names created. */
export async function ensureTopics(s: KafkaSettings, topics: readonly TopicSpec[]): Promise<string[]> {
  return wrap('creating topics', s, () => withAdmin(s, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    const created: string[] = [];
    for (const t of missing) {
      try {
        await admin.createTopics({
          topics: [t.name], partitions: t.partitions, replicas: 1,
          configs: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        });
        created.push(t.name);
      } catch (error) {
        // Another process (or another member in this one) created it in the meantime: fine, it is there.
        // The broker says so before its metadata lists the topic, so the answer counts, not the listing.
        if (error instanceof Error && findErrorBy(error, 'apiId', 'TOPIC_ALREADY_EXISTS')) continue;
        if (!(await admin.listTopics()).includes(t.name)) throw error;
      }
    }
    // Also topics another process has just created: they may not be served yet either (their
    // partition count is whatever they were created with: only the new ones' is checked).
    await waitForLeaders(admin, topics.map((t) => (missing.includes(t) ? t : { ...t, partitions: 1 })));
    return created;
  }));
}

/**
 * A command's first contact with the brokers, with little patience: a broker that is not running is
 * said in seconds, in one line. The clients' own retries (which ride out a restarting broker under a
 * long-running worker, and are left as they are) took up to half a minute to give up, repeating the
 * cause once per attempt.
 */
export async function probeBrokers(s: KafkaSettings): Promise<void> {
  const admin = new Admin({ ...baseOptions(s, `${s.clientId}-probe`), retries: 1, retryDelay: 200, connectTimeout: 3_000 });
  try {
    await admin.listTopics();
  } catch (error) {
    throw firstContactFailure(s, error);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Those of `topics` that do not exist (yet). */
export async function missingTopics(s: KafkaSettings, topics: readonly string[]): Promise<string[]> {
  const existing = new Set(await wrapRead('listing topics', s, () => withAdmin(s, (admin) => admin.listTopics())));
  return topics.filter((t) => !existing.has(t));
}

/**
 * Refuses topics that do not exist (a consumer would wait for them, retrying, then fail unclearly).
 * `writer`: what makes them, for the message (default "produce to it").
 */
export async function requireTopics(s: KafkaSettings, topics: readonly string[], writer?: string): Promise<void> {
  const [missing] = await missingTopics(s, topics);
  if (missing !== undefined) throw new KafkaTopicMissingError(missing, s.brokers, undefined, writer);
}

/** The id the cluster gave the topic when it was made (a topic deleted and made again has another). */
export async function topicId(s: KafkaSettings, topic: string): Promise<string> {
  return wrapRead('reading topic metadata', s, () => withAdmin(s, async (admin) => {
    const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
    const id = meta.topics.get(topic)?.id;
    if (id === undefined) throw new KafkaTopicMissingError(topic, s.brokers);
    return id;
  }));
}

export async function topicPartitions(s: KafkaSettings, topic: string): Promise<number> {
  return wrapRead('reading topic metadata', s, () => withAdmin(s, async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return partitionCount(admin, topic);
  }));
}

/** The topic's configuration values as the broker reports them (defaults included), for `names`. */
export async function topicConfig(s: KafkaSettings, topic: string, names: readonly string[]): Promise<Record<string, string>> {
  return wrapRead('reading topic config', s, () => withAdmin(s, async (admin) => {
    const [resource] = await admin.describeConfigs({ includeSynonyms: false, resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [...names] }] });
    return Object.fromEntries((resource?.configs ?? []).filter((c) => c.value !== null).map((c) => [c.name, c.value as string]));
  }));
}

/** Offsets a consumer group has committed per partition (missing: none committed yet). */
export async function committedOffsets(s: KafkaSettings, groupId: string, topic: string): Promise<Map<number, number>> {
  return wrapRead('reading committed offsets', s, () => withAdmin(s, async (admin) => {
    const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId], requireStable: true });
    const t = group?.topics.find((x) => x.name === topic);
    return new Map((t?.partitions ?? []).filter((p) => p.committedOffset >= 0n).map((p) => [p.partitionIndex, Number(p.committedOffset)]));
  }));
}

/** End offsets per partition (the offset the next record will get). */
export async function endOffsets(s: KafkaSettings, topic: string): Promise<Map<number, number>> {
  return wrapRead('reading end offsets', s, () => withAdmin(s, (admin) => listOffsets(admin, topic, ListOffsetTimestamps.LATEST)));
}

/** Each partition's log start offset: its first record not deleted yet (retention, DeleteRecords). */
export async function startOffsets(s: KafkaSettings, topic: string): Promise<Map<number, number>> {
  return wrapRead('reading start offsets', s, () => withAdmin(s, (admin) => listOffsets(admin, topic, ListOffsetTimestamps.EARLIEST)));
}

/** Deletes the records of each partition before the given offset (Kafka's DeleteRecords). */
export async function deleteRecordsBefore(s: KafkaSettings, topic: string, before: ReadonlyMap<number, number>): Promise<void> {
  const partitions = [...before].map(([partition, offset]) => ({ partition, offset: BigInt(offset) }));
  await wrap('deleting records', s, () => withAdmin(s, (admin) => admin.deleteRecords({ topics: [{ name: topic, partitions }] })));
}

/** Removes consumer groups (a reader's throwaway group); missing ones are fine. */
export async function deleteGroups(s: KafkaSettings, groups: string[]): Promise<void> {
  await withAdmin(s, (admin) => admin.deleteGroups({ groups })).catch(() => undefined);
}

/** Whether a consumer group has members now (a group that does not exist has none). */
export async function groupHasMembers(s: KafkaSettings, groupId: string): Promise<boolean> {
  return wrapRead('describing the consumer group', s, () => withAdmin(s, async (admin) => {
    const group = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
    return (group?.members.size ?? 0) > 0;
  }));
}

/**
 * Sets a consumer group's committed offsets (`kafka-consumer-groups --reset-offsets`): the broker takes
 * them only while the group has no members. `offsets`: per topic, the next offset to read per partition.
 */
export async function setGroupOffsets(s: KafkaSettings, groupId: string, offsets: ReadonlyMap<string, ReadonlyMap<number, number>>): Promise<void> {
  const topics = [...offsets].map(([name, partitions]) => ({ name, partitionOffsets: [...partitions].map(([partition, offset]) => ({ partition, offset: BigInt(offset) })) }));
  await wrap('setting the consumer group\'s offsets', s, () => withAdmin(s, (admin) => admin.alterConsumerGroupOffsets({ groupId, topics })));
}
