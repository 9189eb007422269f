/**
 * Checkpoint bytes of the fraud rule's worker per transaction: the whole rule state of each changed
 * partition (format 2, before) against its incremental checkpoint (the head and the keys changed since
 * the last one, format 3), from the same operators in the same run, in process (no broker). Run alone:
 *   tsx bench/rule-checkpoint-bytes.ts [transactions, default 100000] [minutes of event time, default 40] [events per transaction, default 50]
 * The input: `concord produce`'s generated day of transactions (25,000 card holders, fraud rings) with its
 * event times squeezed into the given minutes (a day of 100k over 40 min: ~42 a second, the rule holds
 * ~25 min of them), keyed into 6 partitions by user_id as the producer does; a worker transaction takes
 * the next N events in arrival order, and every partition whose state changed writes its records.
 * Figures in docs/benchmarks.md ("Checkpoints of the rule worker").
 */
import { fraudMultiCountry, transactionsSchema } from '../examples/seed.ts';
import { producedDay } from '../generate/produced-day.ts';
import { decodeLine } from '../schemas/decode.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { keyHash } from '../stream/kafka/murmur2.ts';
import { CollectingEmitter, createOperator, type StreamOperator } from '../stream/operators/index.ts';
import { checkpointKey, partitionCheckpointRecords, partitionHead } from '../stream/partition-checkpoint.ts';

const [countArg = '100000', minutesArg = '40', perTxnArg = '50'] = process.argv.slice(2);
const count = Number(countArg), minutes = Number(minutesArg), perTxn = Number(perTxnArg);
const PARTITIONS = 6;
const DATE = '2026-12-05';
const def = fraudMultiCountry();

/** The produced day with its event times squeezed from 24 h into `minutes`, decoded, with each one's partition. */
function input(): { event: AnyEvent; partition: number }[] {
  const start = Date.parse(`${DATE}T00:00:00Z`);
  const squeeze = 1440 / minutes;
  const out: { event: AnyEvent; partition: number }[] = [];
  producedDay({ schema: 'transactions', count, date: DATE }).lines.forEach((line, offset) => {
    const raw = JSON.parse(line) as Record<string, unknown>;
    // The generator writes times as numbers or as ISO text with offsets.
    const ts = typeof raw.ts === 'number' ? raw.ts : Date.parse(String(raw.ts));
    if (Number.isFinite(ts)) raw.ts = new Date(start + Math.floor((ts - start) / squeeze)).toISOString();
    const decoded = decodeLine(transactionsSchema, JSON.stringify(raw), { source: 'bench', offset });
    if (decoded.ok) out.push({ event: decoded.event, partition: keyHash(String(decoded.event.user_id)) % PARTITIONS });
  });
  return out;
}

const bytes = (key: string | null, value: string | null) => Buffer.byteLength(key ?? '') + Buffer.byteLength(value ?? '');

const events = input();
const operators: StreamOperator[] = Array.from({ length: PARTITIONS }, () => createOperator(def, new CollectingEmitter()));
const next = new Array<number>(PARTITIONS).fill(0);
const whole = { bytes: 0, ms: 0 }, incremental = { bytes: 0, ms: 0, records: 0 };
let transactions = 0, largestWhole = 0, largestIncremental = 0;
for (let i = 0; i < events.length; i += perTxn) {
  for (const { event, partition } of events.slice(i, i + perTxn)) operators[partition]!.process(event, { source: `t:${partition}`, offset: next[partition]!++ });
  let w = 0, inc = 0;
  operators.forEach((op, p) => {
    if (!op.takeChanged()) return;
    const head = partitionHead('concord-transactions', 'transactions', p);
    // Before: the partition's record with the operator's whole state (format 2).
    let t = performance.now();
    const value = JSON.stringify({ format: 2, next: next[p], watermark: op.watermark, idle: false, operator: op.snapshot() });
    w += bytes(checkpointKey(head, def.name), value);
    whole.ms += performance.now() - t;
    // After: the head and the keys changed since the partition's last checkpoint.
    t = performance.now();
    const records = partitionCheckpointRecords('concord.checkpoints', head, [def], { operators: [op], next: next[p]!, idle: false });
    for (const r of records) inc += bytes(r.key, r.value);
    incremental.ms += performance.now() - t;
    incremental.records += records.length;
  });
  transactions++;
  whole.bytes += w;
  incremental.bytes += inc;
  largestWhole = Math.max(largestWhole, w);
  largestIncremental = Math.max(largestIncremental, inc);
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const kept = operators.reduce((n, op) => n + (op.snapshot().state as { users: { kept: unknown[] }[] }).users.reduce((k, u) => k + u.kept.length, 0), 0);
process.stdout.write(
  `${events.length.toLocaleString('en-US')} transactions over ${minutes} min of event time, ${PARTITIONS} partitions, ${perTxn} per worker transaction: ` +
    `${transactions} transactions, ${kept.toLocaleString('en-US')} events kept at the end\n` +
    `whole rule state (before): ${kib(whole.bytes / transactions)} per transaction (largest ${kib(largestWhole)}), ${(whole.ms / transactions).toFixed(2)} ms to build\n` +
    `incremental (after):       ${kib(incremental.bytes / transactions)} per transaction (largest ${kib(largestIncremental)}), ` +
    `${(incremental.ms / transactions).toFixed(2)} ms to build, ${(incremental.records / transactions).toFixed(1)} records\n` +
    `ratio: ${(whole.bytes / incremental.bytes).toFixed(1)}x fewer bytes, ${(whole.ms / incremental.ms).toFixed(1)}x less time to build\n`,
);
