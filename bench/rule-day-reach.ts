/**
 * `reconcile --date` of one rule day (the seed fraud rule, distinct countries > 1 within 10 min) over
 * a 1-day and a 30-day archive: does a day's cost grow with the archive? Run alone (setup, the archives
 * and the stream's rows, outside the timer; archives kept under $TMPDIR/concord-rule-day-bench):
 *   tsx bench/rule-day-reach.ts [events per day, default 40000] [rounds, default 3]
 * Figures in docs/benchmarks.md ("A rule day's reconcile by archive days").
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDb } from '../batch/duckdb.ts';
import { ParquetArchive } from '../batch/parquet-archive.ts';
import { replay } from '../batch/replay.ts';
import { fraudMultiCountry, transactionsSchema } from '../examples/seed.ts';
import { Registry } from '../pipeline/registry.ts';
import { finalResults } from '../reconcile/final-results.ts';
import { reconcileDay } from '../reconcile/reconcile-day.ts';
import { memoryBatches } from '../sources/jsonl-file.ts';
import { openStore } from '../store/open-store.ts';

const [perDayArg = '40000', roundsArg = '3'] = process.argv.slice(2);
const perDay = Number(perDayArg);
const DAY = 86_400_000;
const LAST = Date.UTC(2026, 10, 30);
const DATE = new Date(LAST).toISOString().slice(0, 10);
const def = fraudMultiCountry({ threshold: 1 });
const COUNTRIES = ['FR', 'DE', 'ES', 'IT', 'NL', 'BE', 'PT', 'PL'];

/**
 * A day of transactions: 20,000 users (about 2 a day each), times uniform, a fixed seed per day; `fresh`
 * of them (on the last day) users the archive never saw, whose last earlier event the walk looks for to
 * the archive's first hour.
 */
function dayLines(day: number, fresh = 0): string[] {
  let s = (day / DAY) * 7919 + 1;
  const next = () => ((s = (s * 48271) % 2147483647) / 2147483647);
  const out: string[] = [];
  for (let i = 0; i < perDay; i++) {
    const ts = day + Math.floor(next() * DAY);
    out.push(JSON.stringify({ txn_id: `${day / DAY}-${i}`, ts, user_id: i < fresh ? `new${i}` : `u${Math.floor(next() * 20_000)}`, country: COUNTRIES[Math.floor(next() * COUNTRIES.length)], amount: Math.floor(next() * 50_000) / 100 }));
  }
  return out.sort((a, b) => JSON.parse(a).ts - JSON.parse(b).ts);
}

async function archiveOf(days: number, fresh: number): Promise<string> {
  const dir = join(tmpdir(), 'concord-rule-day-bench', `${perDay}-${days}d-${fresh}`);
  if (existsSync(dir)) return dir;
  for (let d = days - 1; d >= 0; d--) await new ParquetArchive(dir, transactionsSchema).write(memoryBatches(`file:day-${d}.jsonl`, dayLines(LAST - d * DAY, d === 0 ? fresh : 0), 65_536));
  return dir;
}

const observe = (DuckDb as unknown as { observe?: (o: (sql: string) => void) => () => void }).observe;
for (const [days, fresh] of [[1, 0], [30, 0], [30, 1_000]] as const) {
  const dir = await archiveOf(days, fresh);
  // The stream's rows: the day's alerts over complete data (no difference to explain: the cost is the reads).
  const realtime = [...finalResults(await replay(def, dir)).values()].filter((r) => r.kind === 'alert' && r.ts >= LAST && r.ts < LAST + DAY);
  for (let round = 0; round < Number(roundsArg); round++) {
    const store = await openStore(`duckdb:${join(mkdtempSync(join(tmpdir(), 'rule-day-')), 'store.duckdb')}`, { registry: new Registry([transactionsSchema], [def], 'bench') });
    await store.writeRealtime(realtime);
    const files = new Set<string>(), walked = new Set<string>();
    const stop = observe?.((sql) => { for (const m of sql.matchAll(/'([^'*]+\.parquet)'/g)) (sql.includes('rule_day_') ? walked : files).add(m[1]!); });
    const t = performance.now(), cpu = process.cpuUsage();
    const rec = await reconcileDay({ def, date: DATE, store, archiveDir: dir, jobId: `bench-${round}` });
    const seconds = (performance.now() - t) / 1000;
    // CPU of the process (DuckDB's threads included): the work, less sensitive than wall time to a shared machine.
    const used = process.cpuUsage(cpu), cpuSeconds = (used.user + used.system) / 1e6;
    stop?.();
    await store.close();
    const named = observe ? `; files: ${files.size} read, ${walked.size} walked for key and time` : '';
    process.stdout.write(`${days} day(s)${fresh ? `, ${fresh} users new on the day` : ''}, ${(days * perDay).toLocaleString('en-US')} events: reconcile ${DATE} ${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU (${rec.report.cells} alerts, ${rec.report.different} different${named})\n`);
  }
}
