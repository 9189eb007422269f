/**
 * Shared by the kafka-client bench modules: broker list (KAFKA_BROKERS), record shape and batch size,
 * the check registry (`check` runs one and records it in `checks`), the client-independent parts of
 * the group, rebalance and transactions checks, the Java-partitioner comparison, and the throughput result
 * type (Rates) with its CPU and transaction-record helpers.
 */
import { randomUUID } from 'node:crypto';
import { murmur2 } from '@platformatic/kafka';

export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const BATCH = 5_000;
export const value150 = 'v'.repeat(150);
export const uid = () => randomUUID().slice(0, 8);

export async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Check { check: string; ok: boolean; detail: string; informational: boolean }
export const checks: Check[] = [];
/** An informational check is reported but does not fail the run. */
export async function check(client: string, name: string, fn: () => Promise<string>, informational = false): Promise<void> {
  const t = performance.now();
  try {
    const detail = await fn();
    checks.push({ check: `${client}: ${name}`, ok: true, detail: `${detail} (${Math.round(performance.now() - t)} ms)`, informational });
  } catch (error) {
    const e = error as Error & { errors?: unknown[]; cause?: unknown };
    const more = e.errors ? ` [${e.errors.map((x) => (x as Error).message).join('; ')}]` : e.cause ? ` [cause: ${(e.cause as Error).message}]` : '';
    checks.push({ check: `${client}: ${name}`, ok: false, detail: `${e.name}: ${e.message}${more}`, informational });
  }
  const c = checks.at(-1)!;
  console.error(`${c.ok ? 'ok  ' : c.informational ? 'note' : 'FAIL'} ${c.check}: ${c.detail}`);
}

/** Where the Java client's default partitioner puts a key: toPositive(murmur2(key)) % partitions. */
const javaPartition = (key: string, partitions: number) => (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;
export const PARTITIONER_CHECK = "keyed records land where Java's default partitioner puts them (6 partitions, keys k0..k199)";
export function partitionMismatches(records: { key: string; partition: number }[]): string {
  const wrong = records.filter((r) => r.partition !== javaPartition(r.key, 6));
  if (wrong.length > 0) throw new Error(`${new Set(wrong.map((r) => r.key)).size} of 200 keys are in another partition than the Java client would use`);
  return 'all 200 keys agree';
}

/** A group member as the checks see it: the partitions it owns now, and the records it has read. */
export interface Member { assigned: number[]; records: { value: string }[] }

export const GROUP_COMMIT_CHECK = 'consumer group reads all and commits';
/**
 * The group check on the topic of 1,000 records: a member of a fresh group reads them all, then
 * stops (after `settle`, if given); the group's committed offsets (`groupOffsets`) add up to 1,000.
 */
export async function groupReadsAndCommits<M extends Member>(
  join: (groupId: string) => Promise<M>, leave: (member: M) => Promise<void>, groupOffsets: (groupId: string) => Promise<number[]>, settle?: () => Promise<void>,
): Promise<string> {
  const group = `bench.g.${uid()}`;
  const m = await join(group);
  await until('1000 records', () => m.records.length >= 1000);
  await settle?.();
  await leave(m);
  const committed = await groupOffsets(group);
  // An empty partition has no committed offset (-1).
  if (committed.filter((o) => o > 0).reduce((a, b) => a + b, 0) !== 1000) throw new Error(`committed offsets ${committed} do not add up to 1000`);
  return `1000 records, committed ${committed.join('/')}`;
}

export const REBALANCE_CHECK = 'rebalance: a second member joins, then leaves';
/**
 * The rebalance check on a 4-partition topic: member A of a fresh group owns all 4, B joins and they
 * split them (none in both), B leaves and A owns all 4 again. `join` starts a member, `leave` stops it.
 */
export async function rebalance<M extends Member>(join: (groupId: string) => Promise<M>, leave: (member: M) => Promise<void>): Promise<string> {
  const group = `bench.g.${uid()}`;
  const a = await join(group);
  const t0 = performance.now();
  await until('member A owning 4 partitions', () => a.assigned.length === 4);
  const t1 = performance.now();
  const b = await join(group);
  await until('A and B splitting 4 partitions', () => a.assigned.length + b.assigned.length === 4 && a.assigned.length > 0 && b.assigned.length > 0);
  const t2 = performance.now();
  const split = `A ${a.assigned.join(',')} | B ${b.assigned.join(',')}`;
  if (a.assigned.some((p) => b.assigned.includes(p))) throw new Error(`a partition is in both members: ${split}`);
  await leave(b);
  const t3 = performance.now();
  await until('A owning all 4 again after B left', () => a.assigned.length === 4);
  const ms = (x: number, y: number) => `${Math.round(y - x)} ms`;
  const phases = `A assigned ${ms(t0, t1)}, split ${ms(t1, t2)}, back to A ${ms(t3, performance.now())}`;
  await leave(a);
  return `split ${split}; back to A after B left; ${phases}`;
}

/**
 * The end of the transactions check: a read_committed `reader` of the output sees the 5 committed
 * records and not the aborted one, and the group's committed offset of the input (`groupOffsets`) is 5,
 * not the one the aborted transaction sent (with `abortedCall`).
 */
export async function readCommittedOutcome<M extends Member>(
  reader: M, leave: (member: M) => Promise<void>, groupOffsets: () => Promise<number[]>, abortedCall: string,
): Promise<string> {
  await until('5 committed output records', () => reader.records.length >= 5);
  await new Promise((r) => setTimeout(r, 1_000)); // give an aborted record a chance to show up
  await leave(reader);
  const seen = reader.records.map((r) => r.value);
  if (seen.includes('aborted') || seen.length !== 5) throw new Error(`read_committed consumer saw ${JSON.stringify(seen)}`);
  const committed = await groupOffsets();
  if (committed[0] !== 5) throw new Error(`group offset is ${committed[0]}, expected 5 (the aborted ${abortedCall} must not count)`);
  return `read_committed saw 5 records, no aborted one; group offset 5`;
}

/** Records/s; CPU of this process in µs per record (produce, consume) or per transaction; transactions/s. */
export interface Rates { produce: number; consume: number; consumeWithJoin: number; produceCpu: number; consumeCpu: number; tx: number; txCpu: number }

/** Sizes of a throughput round, from the command line: records (--n) and transactions (--transactions). */
export interface Sizes { n: number; transactions: number }

export const cpuNow = () => { const u = process.cpuUsage(); return u.user + u.system; };
/** Per transaction: 10 records of 150 B to an output topic, the group's offset of the input, commit. */
export const txRecords = (output: string, i: number) => Array.from({ length: 10 }, (_, j) => ({ topic: output, key: `k${(i * 10 + j) % 100}`, value: value150 }));
