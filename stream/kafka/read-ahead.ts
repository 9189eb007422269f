/** How far a consumer reads ahead of what it delivered: records taken from fetch responses, held for delivery. */
import type { GroupGeneration } from './common.ts';
import { takeRecords, type FetchedPartition, type FetchRequestPartitions, type FetchResponseRecords } from './fetched-records.ts';
import { envNumber } from '../../pipeline/env-number.ts';

/**
 * Records taken from fetch responses and not yet delivered, past which the next fetch waits (env
 * CONCORD_KAFKA_PREFETCH_RECORDS): how far reading runs ahead of processing, so also how coarse
 * watermark alignment is (a paused partition's records fetched already are still processed).
 */
function prefetchRecords(): number {
  return envNumber('CONCORD_KAFKA_PREFETCH_RECORDS', 20_000, { integer: true, min: 1, unit: 'records' });
}

/** The parts of the library's consumer the record taking needs. */
export interface TakingConsumer {
  generationId: number;
  memberId: string | null;
  fetch: (request: FetchRequestPartitions, callback: (error: Error | null, response: unknown) => void) => unknown;
}

/** What the read-ahead asks of its consumer (BatchConsumer). */
export interface ReadAheadOwner {
  /** The membership the owner knows (from its join event). */
  generation: () => GroupGeneration | undefined;
  stopped: () => boolean;
  /** Topic ids (in fetch responses) to names; undefined: left to the library. */
  topicName: (id: string) => string | undefined;
  lineLimit: number;
  /** Records were taken: deliver them (called on a later turn of the event loop). */
  arrived: () => void;
}

/**
 * Takes each fetch response's records before the library turns them into messages (fetched-records.ts),
 * wrapping the consumer's fetch after the position guard (which answers stale fetches as empty). A
 * response is handed back to the library at once, or, while `high` records wait, once they are
 * delivered (`release`): the library fetches again only after that (as its stream's high-water mark did).
 */
export class ReadAhead {
  /** Records taken from fetch responses, not yet delivered, and how many. */
  private taken: FetchedPartition[] = [];
  private count = 0;
  /** A response held back while `taken` is full: handing it to the library lets it fetch on. */
  private held: ((dropped: boolean) => void) | undefined;
  private readonly high = prefetchRecords();

  constructor(consumer: TakingConsumer, private readonly owner: ReadAheadOwner) {
    const send = consumer.fetch.bind(consumer);
    consumer.fetch = (request, callback) => send(request, (error, response) => {
      if (error || !response || owner.stopped()) return callback(error, response);
      const g = owner.generation();
      // Fetched under a membership this member does not know yet (its join event is still to come): the
      // join resets every position, so these records are read again; the old path dropped them too.
      const current = g !== undefined && g.generationId === consumer.generationId && g.memberId === consumer.memberId;
      const taken = takeRecords(request, response as FetchResponseRecords, owner.topicName, owner.lineLimit);
      if (current && taken.length > 0) {
        for (const p of taken) this.count += p.records.length;
        this.taken.push(...taken);
        setImmediate(() => owner.arrived());
      }
      if (this.count < this.high) return callback(error, response);
      this.held = (dropped) => callback(null, dropped ? { responses: [] } : response);
    });
  }

  /** Records taken and not delivered yet. */
  get size(): number {
    return this.count;
  }

  /** Everything taken so far, to deliver; `release` afterwards lets the library fetch on. */
  takeAll(): FetchedPartition[] {
    const taken = this.taken;
    this.taken = [];
    this.count = 0;
    return taken;
  }

  /** At a join: records taken but not delivered belong to the old membership. */
  drop(): void {
    this.taken = [];
    this.count = 0;
    this.release(true);
  }

  /** Hands a held response back to the library (as empty when dropped: it must not move positions after a join). */
  release(dropped = false): void {
    const held = this.held;
    this.held = undefined;
    held?.(dropped);
  }
}
