/** Reading a topic to its current end, once: checkpoints at an assignment, results for the CLI and tests. */
import { deleteGroups, endOffsets } from './admin.ts';
import { BatchConsumer } from './consumer.ts';
import { applyLatest } from './followed-topic.ts';
import { KafkaClientError, type InRecord, type KafkaSettings } from './common.ts';

/**
 * How long a read may go without reaching further before it fails (ms). A limit on the whole read
 * failed every restore of a checkpoints topic that takes longer to read: a worker's restart reads the
 * topic whole, uncompacted tail included (up to a 100 MiB segment and the one being cleaned; 100 MB
 * took 12-14 s here on a loaded machine), and retried in vain, the topic unchanged while it was down.
 */
export const READ_STALL_MS = 30_000;

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
  // Re-armed by every position the consumer reports: what fails a read is no progress, not its length.
  const timer = setTimeout(() => done(), READ_STALL_MS);
  let consumer: BatchConsumer;
  try {
    consumer = await BatchConsumer.start(s, {
      groupId,
      topics: [topic],
      commit: 'none',
      maxRecordBytes: Number.POSITIVE_INFINITY,
      onBatch: (b) => { out.push(...b.records); },
      onPosition: (p) => {
        timer.refresh();
        if (p.next >= (ends.get(p.partition) ?? 0)) pending.delete(p.partition);
        if (pending.size === 0) done();
      },
    });
    await finished;
  } finally {
    clearTimeout(timer);
  }
  await consumer.stop().catch(() => undefined);
  await deleteGroups(s, [groupId]);
  if (pending.size > 0) throw new KafkaClientError(`reading ${topic} to its end stopped getting further for ${READ_STALL_MS / 1000} s (partitions ${[...pending].join(', ')} incomplete)`);
  return out;
}

/**
 * A (compacted) topic read to its end: the latest value per key, without the keys whose latest record is
 * a tombstone (`applyLatest`). Used to load checkpoints and to read results. `read.bytes` grows by the
 * characters of every record read (keys and values): what a restore costs.
 */
export async function readLatestByKey(s: KafkaSettings, topic: string, read?: { bytes: number }): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of await readToEnd(s, topic)) {
    if (read) read.bytes += (r.key?.length ?? 0) + r.value.length;
    applyLatest(out, topic, r);
  }
  return out;
}
