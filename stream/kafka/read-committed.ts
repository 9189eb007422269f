/**
 * read_committed done right for @platformatic/kafka. The library drops an aborted transaction's records
 * only when its abort marker arrives in the same fetch response; when a response ends before the marker
 * (small fetches, or a transaction larger than one response) it delivers the aborted records as if they
 * were committed. Measured: 160 of 200 aborted records seen with 16 KiB per partition. Restores then read
 * a killed worker's aborted checkpoints, and merges its aborted partials (issue 12: a run killed and
 * restarted ended with cells that differ from an uninterrupted one).
 *
 * Its own filter also drops committed records: it keeps one aborted range per producer, from the first
 * aborted offset to the LAST abort marker of that producer in the response. A restarted worker keeps its
 * producer id (its transactional id), so "aborted at 4, marker at 7; committed at 18; empty abort marker
 * at 24 (the next restart's epoch bump)" dropped the committed checkpoint at 18: the restart restored an
 * older checkpoint while the group's offset was the newer one, and a range of records was never processed
 * (seen as a run of missing results after SIGKILLs, and as late events judged by an old W).
 *
 * This applies the rule of Kafka's own consumer to every fetch response before the library reads it: the
 * response lists the aborted transactions overlapping the fetched range (producer, first offset); walking
 * the batches in offset order, a producer is aborted from its first offset until its abort marker, and its
 * transactional batches in between carry no records. The batches stay (emptied), so the library's
 * position still moves past them; removing them would refetch the same range for ever. The list of
 * aborted transactions is then emptied, so the library's filter has nothing left to (mis)apply.
 */
import { subscribe } from 'node:diagnostics_channel';

/** What this needs of a record batch in a fetch response (the library's parsed shape). */
export interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  producerId: bigint;
  attributes: number;
  records: { key?: Buffer | null }[];
}

export interface FetchedPartition {
  abortedTransactions?: { producerId: bigint; firstOffset: bigint }[] | null;
  records?: FetchedBatch[] | null;
}

export interface FetchResponseShape {
  responses?: { partitions: FetchedPartition[] }[];
}

const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

/** A control batch's record key: version (int16), then type (int16): 0 = abort, 1 = commit. */
function isAbortMarker(batch: FetchedBatch): boolean {
  const key = batch.records[0]?.key;
  return key !== undefined && key !== null && key.length >= 4 && key.readInt16BE(2) === 0;
}

/** Empties the batches of aborted transactions in one partition's fetched data; returns how many. */
export function dropAbortedBatches(partition: FetchedPartition): number {
  const batches = partition.records;
  const aborted = [...(partition.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  if (!batches || aborted.length === 0) return 0;
  const abortedProducers = new Set<bigint>();
  let next = 0;
  let dropped = 0;
  for (const batch of batches) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (next < aborted.length && aborted[next]!.firstOffset <= last) abortedProducers.add(aborted[next++]!.producerId);
    if (batch.attributes & IS_CONTROL) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & IS_TRANSACTIONAL && abortedProducers.has(batch.producerId) && batch.records.length > 0) {
      batch.records = [];
      dropped++;
    }
  }
  return dropped;
}

/** Every partition of a fetch response; the aborted transactions are consumed (emptied). */
export function dropAbortedRecords(response: FetchResponseShape): number {
  let dropped = 0;
  for (const topic of response.responses ?? []) {
    for (const p of topic.partitions) {
      dropped += dropAbortedBatches(p);
      if (p.abortedTransactions) p.abortedTransactions = [];
    }
  }
  return dropped;
}

/** The Kafka protocol's API key of Fetch. */
const FETCH_API_KEY = 1;

let installed = false;

/**
 * Filters every fetch response of every consumer in this process as it comes off the connection, before
 * the consumer (and its own filter) reads it: the connection's tracing channel publishes each parsed
 * response first. Idempotent.
 */
export function installReadCommittedFilter(): void {
  if (installed) return;
  installed = true;
  subscribe('tracing:plt:kafka:connections:api:asyncStart', (message) => {
    const { apiKey, result } = message as { apiKey?: number; result?: FetchResponseShape };
    if (apiKey === FETCH_API_KEY && result) dropAbortedRecords(result);
  });
}
