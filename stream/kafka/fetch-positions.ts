/**
 * Fetch positions that never run ahead of what a member was handed. @platformatic/kafka moves a
 * partition's position to the end of every fetch response it reads, whenever that fetch was sent:
 *  - a fetch sent before a rebalance and answered after it moves the position past records nobody will
 *    process (its records carry the new generation, but the offset the group refreshed was older);
 *  - a response read between the JoinGroup answer and the join event carries the new generation before
 *    the member knows it, so the member drops it while the position has moved past it;
 *  - after a rebalance the library resets positions to the group's committed offsets, but keeps its own
 *    (ahead) position for a partition that has none.
 * Each can leave a contiguous range of records unprocessed (found, reading the client, while chasing the
 * SIGKILL tests' missing ranges, whose main cause was the read_committed filter: read-committed.ts).
 *
 * The guard: a response to a fetch sent before the latest join (or under another generation or member) is
 * read as empty, so it moves nothing; at every join all positions are forgotten, so the library's refresh
 * sets each one from the committed offset or, without one, from the start (as a new consumer would); a
 * fetch that would go out before that refresh has no position to ask from and is answered empty, unsent.
 * Records already buffered when a join comes are discarded, never delivered after it (a tag per record
 * did the same at two objects per record: measurable garbage at 10M records). Reading from the committed
 * offset again is always safe: members skip records below their restored or in-memory next offset.
 */

/** The parts of a consumer this needs (the library's `Consumer`). */
export interface GuardedConsumer {
  generationId: number;
  memberId: string | null;
  fetch: (options: FetchRequestShape, callback: (error: Error | null, response: unknown) => void) => unknown;
}

export interface FetchRequestShape {
  topics: { partitions: { fetchOffset?: bigint }[] }[];
}

/** The parts of the library's MessagesStream this needs. */
export interface GuardedStream {
  readonly offsetsToFetch: Map<string, bigint>;
  read(): unknown;
}

/** How long an unsent fetch waits before it is answered (the library asks again at once, until its refresh ends). */
const UNSENT_RETRY_MS = 10;

export class FetchPositionGuard {
  /** Joins seen so far: a fetch belongs to the join current when it was sent. */
  private joins = 0;
  private stream: GuardedStream | undefined;
  /** Responses read as empty (stale), fetches not sent (no position yet) and buffered records discarded at a join. */
  readonly stats = { staleResponses: 0, unsentFetches: 0, discardedRecords: 0 };

  constructor(consumer: GuardedConsumer) {
    const send = consumer.fetch.bind(consumer);
    consumer.fetch = (options, callback) => {
      const sent = { joins: this.joins, generation: consumer.generationId, member: consumer.memberId };
      if (options.topics.some((t) => t.partitions.some((p) => p.fetchOffset === undefined || p.fetchOffset < 0n))) {
        this.stats.unsentFetches++;
        setTimeout(() => callback(null, { responses: [] }), UNSENT_RETRY_MS);
        return undefined;
      }
      return send(options, (error, response) => {
        if (sent.joins !== this.joins || sent.generation !== consumer.generationId || sent.member !== consumer.memberId) {
          this.stats.staleResponses++;
          callback(null, { responses: [] });
          return;
        }
        callback(error, response);
      });
    };
  }

  /** The consumer's stream, once it exists. */
  attach(stream: GuardedStream): void {
    this.stream = stream;
  }

  /**
   * A join: must run before the stream's own join handler (which refreshes the positions), so register
   * it on the consumer before the stream is created.
   */
  joined(): void {
    this.joins++;
    if (!this.stream) return;
    this.stream.offsetsToFetch.clear();
    while (this.stream.read() !== null) this.stats.discardedRecords++;
  }
}
