/**
 * Checkpoint bytes per transaction of the two checkpoints that were whole until 2026-12-06, against
 * their incremental records, from the same operators in the same run, in process (no broker):
 *   tsx bench/incremental-checkpoint-bytes.ts clicks [clicks, default 480000] [minutes of event time, default 8] [events per transaction, default 100]
 *     The clicks worker (page_views_per_minute, unique_visitors_5m; 6 partitions by url): per transaction
 *     each changed partition's record with every open window (format 3, before) against its head and the
 *     window cells changed since its last checkpoint (format 4).
 *   tsx bench/incremental-checkpoint-bytes.ts merge-rule [transactions, default 100000] [minutes, default 40] [events per batch, default 100]
 *     The merge stage running the fraud rule over 6 partitions' forwarded events (RuleMergeStage): per batch
 *     its head with the operator whole and the held events changed (before) against the head with the
 *     operator's head only and the held events and keys changed (after).
 * Input: `concord produce`'s generated day, event times squeezed from 24 h into the given minutes (480k
 * clicks over 8 min: 1,000 a second, the windows of B + L + a window open as live). Figures in
 * docs/benchmarks.md ("Checkpoints of windows and of the merge stage's rule").
 */
import { clicksSchema, fraudMultiCountry, pageViewsPerMinute, transactionsSchema, uniqueVisitors5m } from '../examples/seed.ts';
import { producedDay, type GeneratedSchema } from '../generate/produced-day.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import { decodeLine } from '../schemas/decode.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import type { OutRecord } from '../stream/kafka/client.ts';
import { keyHash } from '../stream/kafka/murmur2.ts';
import { checkpointBytes, mergeCheckpointRecords, type CheckpointedStage } from '../stream/merge-checkpoints.ts';
import { toForwardedEvent } from '../stream/merge-messages.ts';
import { CollectingEmitter, createOperator, type StreamOperator } from '../stream/operators/index.ts';
import { checkpointKey, partitionCheckpointRecords, partitionHead } from '../stream/partition-checkpoint.ts';
import { RuleForwarder } from '../stream/rule-merge-forwarder.ts';
import { RuleMergeStage } from '../stream/rule-merge.ts';

const [mode = 'clicks', countArg, minutesArg, perTxnArg = '100'] = process.argv.slice(2);
if (mode !== 'clicks' && mode !== 'merge-rule') {
  process.stderr.write(`unknown mode ${mode}: clicks or merge-rule\n`);
  process.exit(2);
}
const schema: GeneratedSchema = mode === 'clicks' ? 'clicks' : 'transactions';
const count = Number(countArg ?? (mode === 'clicks' ? 480_000 : 100_000)), minutes = Number(minutesArg ?? (mode === 'clicks' ? 8 : 40)), perTxn = Number(perTxnArg);
const PARTITIONS = 6;
const DATE = '2026-12-05';

/** The produced day with its event times squeezed from 24 h into `minutes`, decoded, with each one's partition (by the topic's key). */
function input(): { event: AnyEvent; partition: number }[] {
  const start = Date.parse(`${DATE}T00:00:00Z`);
  const squeeze = 1440 / minutes;
  const s = schema === 'clicks' ? clicksSchema : transactionsSchema;
  const out: { event: AnyEvent; partition: number }[] = [];
  producedDay({ schema, count, date: DATE }).lines.forEach((line, offset) => {
    const raw = JSON.parse(line) as Record<string, unknown>;
    const ts = typeof raw.ts === 'number' ? raw.ts : Date.parse(String(raw.ts));
    if (Number.isFinite(ts)) raw.ts = new Date(start + Math.floor((ts - start) / squeeze)).toISOString();
    const decoded = decodeLine(s, JSON.stringify(raw), { source: 'bench', offset });
    if (decoded.ok) out.push({ event: decoded.event, partition: keyHash(String(decoded.event[s.keyField!])) % PARTITIONS });
  });
  return out;
}

const events = input();
const next = new Array<number>(PARTITIONS).fill(0);
const totals = { before: 0, after: 0, records: 0, beforeMs: 0, afterMs: 0, largestBefore: 0, largestAfter: 0, transactions: 0 };
function count1(before: number, after: number, records: number): void {
  totals.before += before;
  totals.after += after;
  totals.records += records;
  totals.largestBefore = Math.max(totals.largestBefore, before);
  totals.largestAfter = Math.max(totals.largestAfter, after);
  totals.transactions++;
}
/** clicks: each pipeline's share of the bytes. */
const perPipeline: Record<string, { before: number; after: number }> = {};
const timed = <T>(key: 'beforeMs' | 'afterMs', f: () => T): T => { const t = performance.now(); const r = f(); totals[key] += performance.now() - t; return r; };

if (mode === 'clicks') {
  const defs = [pageViewsPerMinute, uniqueVisitors5m()];
  const operators: StreamOperator[][] = Array.from({ length: PARTITIONS }, () => defs.map((d) => createOperator(d, new CollectingEmitter())));
  for (let i = 0; i < events.length; i += perTxn) {
    for (const { event, partition } of events.slice(i, i + perTxn)) {
      for (const op of operators[partition]!) op.process(event, { source: `c:${partition}`, offset: next[partition]! });
      next[partition]!++;
    }
    let before = 0, after = 0, records = 0;
    operators.forEach((ops, p) => {
      if (!ops.map((op) => op.takeChanged()).includes(true)) return;
      const head = partitionHead('concord-clicks', 'clicks', p);
      // Before: each pipeline's record with its operator's every open window (format 3).
      const whole = timed('beforeMs', () => defs.map((d, k): OutRecord => ({
        topic: 'cp', key: checkpointKey(head, d.name), value: JSON.stringify({ format: 3, next: next[p], watermark: ops[k]!.watermark, idle: false, operator: ops[k]!.snapshot() }),
      })));
      before += checkpointBytes(whole);
      // After: the heads and the window cells changed since the partition's last checkpoint.
      const written = timed('afterMs', () => partitionCheckpointRecords('cp', head, defs, { operators: ops, next: next[p]!, idle: false }));
      after += checkpointBytes(written);
      records += written.length;
      for (const d of defs) {
        const of = (rs: OutRecord[]) => checkpointBytes(rs.filter((r) => r.key!.startsWith(checkpointKey(head, d.name))));
        const share = (perPipeline[d.name] ??= { before: 0, after: 0 });
        share.before += of(whole);
        share.after += of(written);
      }
    });
    count1(before, after, records);
  }
} else {
  const def = fraudMultiCountry();
  const stage = new RuleMergeStage(def, 'transactions', PARTITIONS);
  const trackers = Array.from({ length: PARTITIONS }, (_, p) => { const t = new WatermarkTracker(def.watermark.maxOutOfOrderness); t.addSource(`t:${p}`, { idle: false }); return t; });
  const forwarders = trackers.map((t, p) => new RuleForwarder(def, p, t, new CollectingEmitter(), (m) => stage.event(toForwardedEvent(m))));
  const head = 'concord-transactions.merge|concord.partials.transactions.concord-transactions|0';
  for (let i = 0; i < events.length; i += perTxn) {
    for (const { event, partition } of events.slice(i, i + perTxn)) forwarders[partition]!.process(event, { source: `t:${partition}`, offset: next[partition]!++ });
    trackers.forEach((t, p) => stage.progress(p, t.perSourceWatermarks()[`t:${p}`] ?? t.current, false));
    stage.advance();
    const delta = timed('afterMs', () => stage.checkpoint());
    // Before: the operator whole in the head, the held events as parts (ids partition:offset).
    const whole: CheckpointedStage = { snapshot: () => stage.snapshot(), checkpoint: () => ({ head: { ...delta.head, operator: stage.snapshot().operator }, parts: delta.parts.filter(([id]) => /^\d+:\d+$/.test(id)) }) };
    const before = timed('beforeMs', () => mergeCheckpointRecords('cp', head, i, new Map([[def.name, whole]])).bytes);
    const after = timed('afterMs', () => mergeCheckpointRecords('cp', head, i, new Map([[def.name, { snapshot: () => stage.snapshot(), checkpoint: () => delta }]])));
    count1(before, after.bytes, after.records.length);
  }
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const t = totals.transactions;
process.stdout.write(
  `${mode}: ${events.length.toLocaleString('en-US')} events over ${minutes} min of event time, ${PARTITIONS} partitions, ${perTxn} per transaction: ${t} transactions\n` +
    `whole (before):      ${kib(totals.before / t)} per transaction (largest ${kib(totals.largestBefore)}), ${(totals.beforeMs / t).toFixed(2)} ms to build\n` +
    `incremental (after): ${kib(totals.after / t)} per transaction (largest ${kib(totals.largestAfter)}), ${(totals.afterMs / t).toFixed(2)} ms to build, ${(totals.records / t).toFixed(1)} records\n` +
    `ratio: ${(totals.before / totals.after).toFixed(1)}x fewer bytes\n` +
    Object.entries(perPipeline).map(([name, b]) => `  ${name}: ${kib(b.before / t)} -> ${kib(b.after / t)} per transaction (${(b.before / b.after).toFixed(1)}x)\n`).join(''),
);
