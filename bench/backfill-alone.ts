/**
 * The backfill benchmark alone, on one backend (bench/backfill.ts), with each step's time when
 * BENCH_TRACE=1. Usage: tsx bench/backfill-alone.ts [duckdb|postgres] [urls, default 140] [rounds, default 1]
 * [dirty every n-th cell, default 1: all; 50: 2%]
 */
import { existsSync, mkdtempSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL } from '../infra/postgres.ts';
import { backfillArchiveDir, backfillBench, writeBackfillArchive } from './backfill.ts';

const [backend = 'postgres', urlsArg = '140', roundsArg = '1', everyArg = '1'] = process.argv.slice(2);
if (backend === '--help' || !['duckdb', 'postgres'].includes(backend)) {
  process.stdout.write('tsx bench/backfill-alone.ts [duckdb|postgres] [urls] [rounds] [dirty every n-th cell]   (BENCH_TRACE=1: each step\'s time)\n');
  process.exit(backend === '--help' ? 0 : 2);
}
const urls = Number(urlsArg);
// BENCH_SQL_TRACE=1: every PostgreSQL statement over 20 ms, with its time (COPY streams are not timed).
if (process.env.BENCH_SQL_TRACE) {
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const result = query.apply(this, args);
    if (typeof args[0] === 'string' && result instanceof Promise) {
      const t = performance.now();
      void result.then(() => {
        const ms = performance.now() - t;
        if (ms > 20) process.stderr.write(`  ${ms.toFixed(0).padStart(5)} ms  ${(args[0] as string).replace(/\s+/g, ' ').slice(0, 110)}\n`);
      }, () => undefined);
    }
    return result;
  } as typeof pg.Client.prototype.query;
}
const work = join(tmpdir(), 'concord-backfill-bench');
const archive = backfillArchiveDir(work, urls);
if (!existsSync(archive)) await writeBackfillArchive(archive, urls);
for (let i = 0; i < Number(roundsArg); i++) {
  const url = backend === 'postgres' ? (process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL) : `duckdb:${join(mkdtempSync(join(tmpdir(), 'bf-')), 'store.duckdb')}`;
  const f = await backfillBench(url, archive, urls, Number(everyArg));
  process.stdout.write(`${f.backend}: ${f.dirty} dirty cells, backfill ${f.backfillS.toFixed(2)} s, ${f.changed} changed (writes: provisional ${f.provisionalWriteS.toFixed(2)} s, reconciled ${f.reconciledWriteS.toFixed(2)} s)\n`);
}
