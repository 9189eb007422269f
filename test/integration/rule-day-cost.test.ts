import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archivedOffsetRuns } from '../../batch/archive-offsets.ts';
import { DuckDb } from '../../batch/duckdb.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { transactionsSchema } from '../../examples/seed.ts';
import { checkDefinition, type RulePipeline } from '../../pipeline/definition.ts';
import { Registry } from '../../pipeline/registry.ts';
import { backfillDay, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { statementsDuring } from '../fixtures/duckdb-statements.ts';

// What a rule day's reconcile reads of a 30-day archive (every statement DuckDB runs, observed): the
// events of the day's hours, of the hour before midnight (one span) and of the quiet user's last event's
// span five days back; the key and time columns of the hours between that event and midnight (the walk
// back for each key's last event). It read every hour of the 30 days, each statement of the replay, the
// recomputation and the duplicate check, and then the gap check (every offset) still did: now the gap
// check reads the files its ledger of offsets lacks (batch/archive-offsets.ts), none here.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const M = 60_000, H = 60 * M, DAY = 24 * H;
const BASE = Date.UTC(2026, 10, 1);
const D0 = BASE + 29 * DAY;
const DATE = new Date(D0).toISOString().slice(0, 10);
const bigSpend = checkDefinition({
  kind: 'rule', name: 'big_spend_cost', schema: transactionsSchema, key: 'user_id', where: [],
  watermark: { maxOutOfOrderness: 1_000 }, allowedLateness: 0,
  rule: { kind: 'lookback', measure: 'sum', field: 'amount', output: 'spent', span: H, threshold: 100_000 },
}) as RulePipeline;
const txn = (id: string, ts: number, user: string, amount: number) => JSON.stringify({ txn_id: id, ts, user_id: user, country: 'FR', amount });

/** u0-u2 every day at 10:05, 11:05 and 23:30; q only on day 24 at 15:20 (600.00) and on the last day at 12:00 (1500.00: an alert). */
function lines(): string[] {
  const out: string[] = [];
  for (let d = 0; d < 30; d++) {
    for (const u of ['u0', 'u1', 'u2']) {
      for (const [i, at] of [10 * H + 5 * M, 11 * H + 5 * M, 23 * H + 30 * M].entries()) out.push(txn(`${u}-${d}-${i}`, BASE + d * DAY + at, u, i === 1 ? 1200 : 100));
    }
  }
  out.push(txn('q-p', BASE + 24 * DAY + 15 * H + 20 * M, 'q', 600), txn('q-e', D0 + 12 * H, 'q', 1500));
  return out.sort((a, b) => JSON.parse(a).ts - JSON.parse(b).ts);
}

const hourOf = (file: string) => /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})/.exec(file)!.slice(1).join(' ');
const hour = (t: number) => new Date(t).toISOString().slice(0, 13).replace('T', ' ');

/** Every statement run during `fn`, with the archive hours it names; `all`: it names the whole archive's glob. */
async function observed(fn: () => Promise<unknown>): Promise<{ sql: string; hours: string[]; all: boolean }[]> {
  return (await statementsDuring(fn)).map((sql) => ({ sql, hours: [...new Set([...sql.matchAll(/'([^']+\.parquet)'/g)].filter((m) => !m[1]!.includes('*')).map((m) => hourOf(m[1]!)))], all: sql.includes('dt=*') }));
}

describe('a rule day over a 30-day archive reads its reach, not the archive', () => {
  it('reconcile --date and backfill of the last day', async () => {
    const dir = join(ws.dir, 'archive');
    await new ParquetArchive(dir, transactionsSchema).write(memoryBatches('file:txns.jsonl', lines(), 10_000));
    // The ledger of archived offsets as the previous nights' reconciles left it (they read these files).
    const ledgerDb = await DuckDb.open();
    await archivedOffsetRuns(dir, transactionsSchema, ledgerDb).finally(() => ledgerDb.close());
    const store = await openStore(`duckdb:${join(ws.dir, 'store.duckdb')}`, { registry: new Registry([transactionsSchema], [bigSpend], 'rule-day-cost') });
    try {
      await store.writeRealtime((await streamLines(bigSpend, lines())).changelog);
      const statements = await observed(() => reconcileDay({ def: bigSpend, date: DATE, store, archiveDir: dir, jobId: 'r' }));
      expect(statements.filter((s) => s.all)).toEqual([]);
      const events = new Set(statements.filter((s) => !s.sql.includes('rule_day_')).flatMap((s) => s.hours));
      // The day's hours with files, 23:00 the day before (its span), and q's last event's span (14:20-15:20 on day 24).
      const q = BASE + 24 * DAY + 15 * H + 20 * M;
      const expected = [hour(q), hour(D0 - H), hour(D0 + 10 * H), hour(D0 + 11 * H), hour(D0 + 12 * H), hour(D0 + 23 * H)].sort();
      expect([...events].sort()).toEqual(expected);
      // The walk: key and time columns of the hours from midnight back to q's 15:00, in batches of 1, 2, 4, 8 hours
      // with files (14 of them to q's, the last batch one more: 11:00 that day), each hour once.
      const walked = statements.filter((s) => s.sql.includes('INSERT INTO rule_day_last')).flatMap((s) => s.hours);
      expect(walked).toHaveLength(new Set(walked).size);
      expect(walked.filter((h) => h < hour(q))).toEqual([hour(q - 4 * H - 15 * M)]);
      expect(walked.filter((h) => h >= hour(q))).toHaveLength(14);

      // A late file within q's last event's span (five days back): the backfill finds it and redoes q over the same reach.
      await new Promise((resolve) => setTimeout(resolve, 20));
      await new ParquetArchive(dir, transactionsSchema).write(memoryBatches('file:late.jsonl', [txn('q-l', q - 10 * M, 'q', 500)], 10));
      const backfill = await observed(async () => expect(await backfillDay({ def: bigSpend, date: DATE, store, archiveDir: dir, jobId: 'b' })).toMatchObject({ dirty: 1, changed: 1 }));
      expect(backfill.filter((s) => s.all)).toEqual([]);
      expect([...new Set(backfill.filter((s) => !s.sql.includes('rule_day_')).flatMap((s) => s.hours))].sort()).toEqual(expected);
      expect(backfill.filter((s) => s.sql.includes('INSERT INTO rule_day_last')).flatMap((s) => s.hours).every((h) => h >= hour(q - 4 * H - 15 * M))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
