/**
 * Shared by the kafka-client bench modules: broker list (KAFKA_BROKERS), record shape and batch size,
 * the check registry (`check` runs one and records it in `checks`), the Java-partitioner comparison,
 * and the throughput result type (Rates) with its CPU and transaction-record helpers.
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

/** Records/s; CPU of this process in µs per record (produce, consume) or per transaction; transactions/s. */
export interface Rates { produce: number; consume: number; consumeWithJoin: number; produceCpu: number; consumeCpu: number; tx: number; txCpu: number }

/** Sizes of a throughput round, from the command line: records (--n) and transactions (--transactions). */
export interface Sizes { n: number; transactions: number }

export const cpuNow = () => { const u = process.cpuUsage(); return u.user + u.system; };
/** Per transaction: 10 records of 150 B to an output topic, the group's offset of the input, commit. */
export const txRecords = (output: string, i: number) => Array.from({ length: 10 }, (_, j) => ({ topic: output, key: `k${(i * 10 + j) % 100}`, value: value150 }));
