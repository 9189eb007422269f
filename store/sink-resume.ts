import { ConcordError } from '../pipeline/errors.ts';
import { committedOffsets, groupHasMembers, setGroupOffsets, startOffsets, type KafkaSettings } from '../stream/kafka/client.ts';
import { refuseGroupOfAnotherStore } from './sink-group-check.ts';
import { planSinkResume, resumeMessage, type SinkOffsets, type SinkSeek } from './sink-offsets.ts';
import type { SqlResultStore } from './sql-store.ts';
import { isRetriable } from './store-outage.ts';

/**
 * Before a sink group joins: where each partition it reads resumes, the store's offsets being the truth
 * (sink-offsets.ts, planSinkResume). The group is moved to them while it has no members, so its fetches,
 * commits and the watermarks judged by its offsets all start there. Returns `floors`, per topic and
 * partition the offset below which records are in the store already: a member joining a running group
 * cannot move it and skips them (only a store ahead of its group, the normal window between a write and
 * its commit); `starting`, the partitions the store has no offset of, for the first write to record; and
 * `stored`, the store's offsets.
 */
export async function resumeFromStore(
  settings: KafkaSettings, store: SqlResultStore, groupId: string, topics: readonly string[], log?: (line: string) => void,
): Promise<{ floors: Map<string, Map<number, number>>; starting: SinkOffsets | undefined; stored: Map<string, Map<number, number>> }> {
  const floors = new Map<string, Map<number, number>>();
  const committed = new Map(await Promise.all(topics.map(async (t) => [t, await committedOffsets(settings, groupId, t)] as const)));
  const logStarts = new Map(await Promise.all(topics.map(async (t) => [t, await startOffsets(settings, t)] as const)));
  const readBefore = [...committed.values()].some((offsets) => [...offsets.values()].some((next) => next > 0));
  // A group that committed nothing (a new one, or one whose offsets expired) resumes from the store's
  // offsets too, but a store that does not answer is waited for at its first write (store-outage.ts), not here.
  const stored = await store.sinkOffsets(groupId).catch((error: unknown) => {
    if (readBefore || !isRetriable(error)) throw error;
    return new Map<string, Map<number, number>>();
  });
  // A store with no offsets of this group: the group's offsets, unless the store holds nothing at all.
  if (readBefore && stored.size === 0) await refuseGroupOfAnotherStore(store, groupId, committed);
  const { seeks, starting } = planSinkResume(groupId, stored, committed, logStarts);
  if (seeks.length === 0) return { floors, starting, stored };
  if (await groupHasMembers(settings, groupId)) {
    const behind = seeks.filter((s) => s.committed === undefined || s.committed > s.from);
    if (behind.length > 0) throw runningGroupBehindStore(groupId, behind);
    for (const s of seeks) floors.set(s.topic, (floors.get(s.topic) ?? new Map<number, number>()).set(s.partition, s.from));
  } else {
    const target = new Map<string, Map<number, number>>();
    for (const s of seeks) target.set(s.topic, (target.get(s.topic) ?? new Map<number, number>()).set(s.partition, s.from));
    await setGroupOffsets(settings, groupId, target);
  }
  log?.(resumeMessage(groupId, seeks));
  return { floors, starting, stored };
}

/** The store is behind its group while other members of the group run: they read on past what it lacks. */
function runningGroupBehindStore(groupId: string, behind: readonly SinkSeek[]): ConcordError {
  return new ConcordError(
    `this store holds sink group ${groupId}'s reads only to ${behind.map((s) => `${s.topic}:${s.partition} offset ${s.from}` +
      (s.committed === undefined ? '' : ` (the group committed ${s.committed})`)).join(', ')}, and the group has other members running, ` +
      'which read on past it (the store was restored from a backup under running sinks; a sink killed less than the session timeout ago, ' +
      'CONCORD_KAFKA_SESSION_TIMEOUT_MS, counts until it ends). Stop every sink of the group, then start them again: ' +
      'the first one resumes the group from the store\'s offsets (docs/operations.md, "Recovering: the store was lost")',
    { domain: 'user' },
  );
}
