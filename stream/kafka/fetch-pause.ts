/**
 * Paused partitions for watermark alignment (stream/watermark-alignment.ts): a fetch asks only for the
 * partitions not paused. @platformatic/kafka builds each fetch from every assigned partition and keeps
 * an incremental fetch session (KIP-227) whose wanted partitions are the request's: a partition left out
 * is sent as forgotten, so the broker stops serving it, and sent again (from the position the library
 * kept) once it is asked for again. Records fetched before the pause are still delivered: alignment is
 * coarse by a fetch, as Flink's is by its update interval.
 *
 * It also keeps, per partition, the last stable offset the broker reported (the end a read_committed
 * reader reads to): alignment waits only for partitions that still have records to read.
 */

/** The parts of the library's fetch request and response this reads. */
export interface PausableRequest {
  topics: { topicId?: string; partitions: { partition: number }[] }[];
}
interface ResponseEnds {
  responses?: { topicId: string; partitions: { partitionIndex: number; lastStableOffset?: bigint }[] }[];
}

/** The consumer's fetch, as the library calls it. */
export interface PausableConsumer {
  fetch: (request: PausableRequest, callback: (error: Error | null, response: unknown) => void) => unknown;
}

export class FetchPause {
  /** `topic:partition` of the paused partitions. */
  private paused = new Set<string>();
  /** `topic:partition` -> the last stable offset of its latest response. */
  private readonly ends = new Map<string, number>();

  /** Wraps `consumer.fetch`; `topicName` names the topic ids of requests and responses (undefined: not ours). */
  constructor(consumer: PausableConsumer, private readonly topicName: (id: string) => string | undefined) {
    const send = consumer.fetch.bind(consumer);
    consumer.fetch = (request, callback) => send(this.unpaused(request), (error, response) => {
      if (!error && response) this.noteEnds(response as ResponseEnds);
      callback(error, response);
    });
  }

  /** From the next fetch on, only the partitions of `topic` not in `partitions` are fetched. */
  pause(topic: string, partitions: Iterable<number>): void {
    const next = new Set([...this.paused].filter((k) => !k.startsWith(`${topic}:`)));
    for (const p of partitions) next.add(`${topic}:${p}`);
    this.paused = next;
  }

  /** The end of a partition as its latest fetch response said (undefined: none seen). */
  end(topic: string, partition: number): number | undefined {
    return this.ends.get(`${topic}:${partition}`);
  }

  /**
   * The request without its paused partitions. A request that would ask for nothing goes out whole: an
   * empty fetch would only wait, and the partition holding the others back is never paused anyway.
   */
  private unpaused<R extends PausableRequest>(request: R): R {
    if (this.paused.size === 0) return request;
    let left = 0;
    let dropped = 0;
    const topics = request.topics.map((t) => {
      const name = t.topicId === undefined ? undefined : this.topicName(t.topicId);
      const partitions = name === undefined ? t.partitions : t.partitions.filter((p) => !this.paused.has(`${name}:${p.partition}`));
      left += partitions.length;
      dropped += t.partitions.length - partitions.length;
      return { ...t, partitions };
    }).filter((t) => t.partitions.length > 0);
    return dropped === 0 || left === 0 ? request : { ...request, topics };
  }

  private noteEnds(response: ResponseEnds): void {
    for (const t of response.responses ?? []) {
      const name = this.topicName(t.topicId);
      if (name === undefined) continue;
      for (const p of t.partitions) {
        if (typeof p.lastStableOffset !== 'bigint' || p.lastStableOffset < 0n) continue;
        const key = `${name}:${p.partitionIndex}`;
        const end = Number(p.lastStableOffset);
        if (end > (this.ends.get(key) ?? -1)) this.ends.set(key, end);
      }
    }
  }
}
