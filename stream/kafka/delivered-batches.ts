/** What a member delivers of the records it fetched: batches per partition, each record once per membership. */
import type { Message } from '@platformatic/kafka';
import { inRecord, type FetchedPartition } from './fetched-records.ts';
import type { GroupGeneration, InBatch } from './common.ts';

type StringMessage = Message<string, Buffer, string, string>;

export const partitionKey = (topic: string, partition: number) => `${topic}:${partition}`;

/** Each batch in pieces of at most `max` records, in order; the fetched position (`next`) goes with the last piece. */
export function splitBatches(batches: InBatch[], max: number | undefined): InBatch[] {
  if (max === undefined) return batches;
  return batches.flatMap((b) => {
    if (b.records.length <= max) return [b];
    const pieces: InBatch[] = [];
    for (let i = 0; i < b.records.length; i += max) pieces.push({ topic: b.topic, partition: b.partition, records: b.records.slice(i, i + max), generation: b.generation });
    if (b.next !== undefined) pieces.at(-1)!.next = b.next;
    return pieces;
  });
}

/** The partitions of a membership and how far each was delivered: records fetched again are not delivered twice. */
export class BatchDelivery {
  /** Next offset delivered per partition in this generation: a refetch after a rejoin is not delivered twice. */
  private readonly delivered = new Map<string, number>();
  /** The partitions of the current assignment ("topic:partition"). */
  private readonly assigned = new Set<string>();

  /** `markers`: also deliver batches without records whose fetch moved past transaction markers (ConsumeOptions.markerBatches). */
  constructor(private readonly markers: boolean) {}

  /** A new assignment: what was delivered under the one before no longer counts. */
  joined(assigned: readonly { topic: string; partition: number }[]): void {
    this.delivered.clear();
    this.assigned.clear();
    for (const a of assigned) this.assigned.add(partitionKey(a.topic, a.partition));
  }

  /** Taken records as batches per partition (order kept), without those delivered already or not assigned now. */
  batchesOfTaken(taken: readonly FetchedPartition[], g: GroupGeneration | undefined): InBatch[] {
    if (!g) return [];
    const out = new Map<string, InBatch>();
    for (const t of taken) {
      const key = partitionKey(t.topic, t.partition);
      if (!this.assigned.has(key)) continue;
      let next = this.delivered.get(key) ?? 0;
      let batch = out.get(key);
      if (!batch) out.set(key, (batch = { topic: t.topic, partition: t.partition, records: [], generation: { ...g } }));
      if (t.next !== undefined) batch.next = Math.max(batch.next ?? 0, t.next);
      for (const r of t.records) {
        if (r.offset < next) continue;
        next = r.offset + 1;
        batch.records.push(r);
      }
      this.delivered.set(key, next);
    }
    return [...out.values()].filter((b) => b.records.length > 0 || (this.markers && b.next !== undefined));
  }
}

/**
 * Messages of the library's own path (a topic whose id was not known at start) as taken partitions,
 * without those fetched under another membership (those fetched before the latest join never get
 * here: fetch-positions.ts). `lineLimit`: longer values are delivered as a problem.
 */
export function takenOfMessages(fetched: readonly StringMessage[], g: GroupGeneration | undefined, lineLimit: number): FetchedPartition[] {
  const out: FetchedPartition[] = [];
  let run: FetchedPartition | undefined;
  for (const m of fetched) {
    const c = m.metadata?.consumer as GroupGeneration | undefined;
    if (!g || !c || c.generationId !== g.generationId || c.memberId !== g.memberId) continue;
    if (run?.topic !== m.topic || run.partition !== m.partition) out.push((run = { topic: m.topic, partition: m.partition, records: [] }));
    run.records.push(inRecord(Number(m.offset), m.key ?? null, m.value, Number(m.timestamp), lineLimit));
  }
  return out;
}
