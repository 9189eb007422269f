/**
 * The metadata a consumer's fetch loop asks for, answered with an error rather than without its topics.
 *
 * @platformatic/kafka's MessagesStream starts each fetch with `consumer.metadata({ topics:
 * consumer.topics.current })` and then looks up every topic of its own list in the answer
 * (`[kGetFetchNode]`: `metadata.topics.get(topic).partitions`). The consumer's list loses the topics when
 * it is closed (`topics.clear()`), and `close(true)` closes the streams first only when the member still
 * has a member id: after its heartbeat learnt UNKNOWN_MEMBER_ID (or FENCED_INSTANCE_ID) the library nulls
 * the id and rejoins, and a close meanwhile skips the LeaveGroup together with the streams. The stream
 * then fetches on with an empty list; the cached metadata answers it at once without the topics, and the
 * lookup throws a TypeError inside a library callback: an uncaught exception that ended a worker (seen
 * when a member was replaced after a refused commit, docs/operations.md). BatchConsumer.stop closes its
 * stream itself first; this guard covers any other way a stream outlives its consumer's topic list: such
 * a fetch gets an error, which the stream reports (`error` event) and BatchConsumer turns into a
 * KafkaClientError, or ignores once stopped.
 */

/** The parts of the library's consumer this reads. */
export interface MetadataConsumer {
  topics: { current: readonly string[] };
  metadata: (options: { topics?: string[] }, callback?: (error: Error | null, metadata: unknown) => void) => unknown;
}

export class FetchMetadataGuard {
  private armed = false;

  /** Wraps `consumer.metadata`; `topics` are those the consumer's stream fetches. */
  constructor(private readonly consumer: MetadataConsumer, private readonly topics: readonly string[]) {
    const ask = consumer.metadata.bind(consumer);
    consumer.metadata = (options, callback) => {
      // Only once the consumer dropped a topic of the stream, and for a list without it (the stream's).
      const missing = this.armed ? this.untracked().filter((t) => !(options.topics ?? []).includes(t)) : [];
      if (missing.length === 0 || !callback) return ask(options, callback);
      // As the library's own callbacks do: asynchronously, so the stream's state is settled when it runs.
      process.nextTick(() => callback(new Error(`the consumer no longer follows ${missing.join(', ')} (closed while its stream was still fetching)`), undefined));
      return undefined;
    };
  }

  /** From now on (the stream exists and the consumer tracks its topics) a fetch without them is refused. */
  arm(): void {
    this.armed = true;
  }

  private untracked(): string[] {
    const current = new Set(this.consumer.topics.current);
    return this.topics.filter((t) => !current.has(t));
  }
}
