/** Reading a topic to its current end, once: checkpoints at an assignment, results for the CLI and tests. */
import { deleteGroups, endOffsets } from './admin.ts';
import { BatchConsumer } from './consumer.ts';
import { applyLatest } from './followed-topic.ts';
import { KafkaClientError, type InRecord, type KafkaSettings } from './common.ts';

/**
 * Every committed record (read_committed) of a topic from the beginning to its current end, in order
 * per partition. Transaction markers take offsets too: positions (not records) say when all is read.
 * Records are read whole, whatever their size: these are Concord's own (checkpoints, results, late
 * events), not input events under the line limit (a 1.2 MiB merge checkpoint read as an empty value
 * was taken for "no checkpoint", and its state was lost).
 */
export async function readToEnd(s: KafkaSettings, topic: string): Promise<InRecord[]> {
  const ends = await endOffsets(s, topic);
  const out: InRecord[] = [];
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
  if (pending.size === 0) return out;
  const groupId = `concord-reader-${Math.random().toString(36).slice(2)}`;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = await BatchConsumer.start(s, {
    groupId,
    topics: [topic],
    commit: 'none',
    maxRecordBytes: Number.POSITIVE_INFINITY,
    onBatch: (b) => { out.push(...b.records); },
    onPosition: (p) => {
      if (p.next >= (ends.get(p.partition) ?? 0)) pending.delete(p.partition);
      if (pending.size === 0) done();
    },
  });
  const timer = setTimeout(done, 30_000);
  await finished;
  clearTimeout(timer);
  await consumer.stop().catch(() => undefined);
  await deleteGroups(s, [groupId]);
  if (pending.size > 0) throw new KafkaClientError(`reading ${topic} to its end timed out (partitions ${[...pending].join(', ')} incomplete)`);
  return out;
}

/**
 * A (compacted) topic read to its end: the latest value per key, without the keys whose latest record is
 * a tombstone (`applyLatest`). Used to load checkpoints and to read results.
 */
export async function readLatestByKey(s: KafkaSettings, topic: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of await readToEnd(s, topic)) applyLatest(out, topic, r);
  return out;
}
