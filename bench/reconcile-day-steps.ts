/**
 * Which steps of a day's reconcile grow with the archive: page views (tumbling 1 min) and the fraud
 * rule, reconciling the last day over archives of 1, 10 and 30 days of the same daily size, two sources
 * (like two Kafka partitions: offsets run on across days). Each step is timed alone, as `reconcile` calls
 * it, then the whole `reconcile --date` (with and without a late log for page views). Archives are kept
 * under $TMPDIR/concord-day-steps-bench. Run alone:
 *   tsx bench/reconcile-day-steps.ts [events per day, default 20000]
 * Figures in docs/benchmarks.md ("A day's reconcile by archive days: the steps").
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { offsetsDir, schemaDir } from '../batch/archive-layout.ts';
import { DuckDb } from '../batch/duckdb.ts';
import { listArchiveFiles, ParquetArchive } from '../batch/parquet-archive.ts';
import { replay } from '../batch/replay.ts';
import { clicksSchema, fraudMultiCountry, pageViewsPerMinute, transactionsSchema } from '../examples/seed.ts';
import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { findDuplicates, findGaps, readRejected } from '../reconcile/evidence.ts';
import { finalResults } from '../reconcile/final-results.ts';
import { archiveJudgement } from '../reconcile/partition-lateness.ts';
import { reconcile, type LoggedLate } from '../reconcile/reconcile.ts';
import { planRuleDay } from '../reconcile/rule-day-reach.ts';
import { memoryBatches } from '../sources/jsonl-file.ts';
import type { EventSchema } from '../schemas/schema.ts';

const perDay = Number(process.argv[2] ?? '20000');
const DAY = 86_400_000;
const LAST = Date.UTC(2026, 10, 30);
const range = { from: LAST, to: LAST + DAY };
const fraud = fraudMultiCountry({ threshold: 1 });
const COUNTRIES = ['FR', 'DE', 'ES', 'IT', 'NL', 'BE', 'PT', 'PL'];

/** `days` days ending on LAST, per source in arrival order (times rising, 2% a little out of order). */
function lines(kind: 'clicks' | 'txns', days: number, source: number): string[] {
  let s = source * 7919 + 17;
  const next = () => ((s = (s * 48271) % 2147483647) / 2147483647);
  const out: string[] = [];
  const n = days * perDay / 2;
  const start = LAST - (days - 1) * DAY;
  for (let i = 0; i < n; i++) {
    const ts = start + Math.floor((i / n) * days * DAY) - (next() < 0.02 ? Math.floor(next() * 20_000) : 0);
    out.push(kind === 'clicks'
      ? JSON.stringify({ event_id: `c${source}-${i}`, ts, url: `/p/${Math.floor(next() * next() * 500)}`, visitor_id: `v${Math.floor(next() * 20_000)}` })
      : JSON.stringify({ txn_id: `t${source}-${i}`, ts, user_id: `u${Math.floor(next() * 20_000)}`, country: COUNTRIES[Math.floor(next() * COUNTRIES.length)], amount: Math.floor(next() * 50_000) / 100 }));
  }
  return out;
}

async function archiveOf(kind: 'clicks' | 'txns', schema: EventSchema, days: number): Promise<string> {
  const dir = join(tmpdir(), 'concord-day-steps-bench', `${kind}-${perDay}-${days}d`);
  if (existsSync(dir)) return dir;
  for (const source of [0, 1]) await new ParquetArchive(dir, schema).write(memoryBatches(`kafka:${kind}/${source}`, lines(kind, days, source), 5_000));
  return dir;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const out = await f();
  return [out, (performance.now() - t) / 1000];
}

async function steps(def: PipelineDefinition, dir: string): Promise<Record<string, number>> {
  const db = await DuckDb.open();
  try {
    const out: Record<string, number> = {};
    out.list = (await timed(() => listArchiveFiles(dir, def.schema)))[1];
    const [rejected, tRej] = await timed(() => readRejected(dir, def.schema));
    out.rejected = tRej;
    // The ledger of offsets (batch/archive-offsets.ts) built from every file, then current (the nightly case
    // reads the day's new files besides: the 1-day archive's figure).
    await rm(offsetsDir(dir, def.schema), { recursive: true, force: true });
    out['gaps, no ledger'] = (await timed(() => findGaps(dir, def.schema, db, rejected)))[1];
    out['gaps, ledger current'] = (await timed(() => findGaps(dir, def.schema, db, rejected)))[1];
    // A file of the oldest day moved out (as to _corrupt/), then back; the oldest day gone (retention), then
    // back: the ledger reads the file's day again, nothing for a day gone (before 2026-12-06: every file).
    const victim = (await listArchiveFiles(dir, def.schema))[0]!, oldestDay = join(schemaDir(dir, def.schema), victim.split('/').at(-3)!);
    await rename(victim, `${victim}.out`);
    out['gaps, a file removed'] = (await timed(() => findGaps(dir, def.schema, db, rejected)))[1];
    await rename(`${victim}.out`, victim);
    out['gaps, the file back'] = (await timed(() => findGaps(dir, def.schema, db, rejected)))[1];
    await rename(oldestDay, `${dir}-day-away`);
    out['gaps, oldest day deleted'] = (await timed(() => findGaps(dir, def.schema, db, rejected)))[1];
    await rename(`${dir}-day-away`, oldestDay);
    await findGaps(dir, def.schema, db, rejected);
    const timeRanges = def.kind === 'windowed' ? [{ from: range.from, to: range.to + def.window.size }] : undefined;
    const [plan, tPlan] = def.kind === 'rule' ? await timed(() => planRuleDay(db, def, dir, range)) : [undefined, 0];
    if (def.kind === 'rule') out.reach = tPlan;
    out.duplicates = (await timed(() => findDuplicates(dir, def.schema, db, fieldsRead(def), timeRanges, plan?.files)))[1];
    out.judged = (await timed(() => archiveJudgement(dir, def, db)))[1];
    out.replay = (await timed(() => replay(def, dir, { db, ...(timeRanges ? { timeRanges } : {}), ...(plan ? { files: plan.files } : {}) })))[1];
    return out;
  } finally {
    db.close();
  }
}

const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
for (const days of [1, 10, 30]) {
  for (const [kind, schema, def] of [['clicks', clicksSchema, pageViewsPerMinute], ['txns', transactionsSchema, fraud]] as const) {
    const dir = await archiveOf(kind, schema, days);
    const realtime = [...finalResults(await replay(def, dir)).values()].filter((r) => (r.kind === 'alert' ? r.ts : r.windowStart) >= range.from && (r.kind === 'alert' ? r.ts : r.windowStart) < range.to);
    const s = await steps(def, dir);
    const lateLog: LoggedLate[] = [];
    const cpu = process.cpuUsage();
    const [withLog, tLog] = await timed(() => reconcile({ def, realtime, archiveDir: dir, range, lateLog, lateLogBefore: { from: range.from, load: async () => [] } }));
    const used = process.cpuUsage(cpu);
    const [without, tWithout] = await timed(() => reconcile({ def, realtime, archiveDir: dir, range }));
    process.stdout.write(`${days} d ${def.name}: steps (s): ${fmt(s)}; reconcile with a log ${tLog.toFixed(2)} s (${((used.user + used.system) / 1e6).toFixed(2)} s CPU, ${withLog.cells} cells, ${withLog.different} diff), without ${tWithout.toFixed(2)} s (${without.different} diff)\n`);
  }
}
