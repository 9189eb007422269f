import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { partitionGlob } from '../batch/archive-layout.ts';
import { DuckDb, quoteString } from '../batch/duckdb.ts';
import { replay } from '../batch/replay.ts';
import { pageViewsPerMinute, uniqueVisitors5m } from '../examples/seed.ts';
import { clicksSchema } from '../examples/seed.ts';
import { BENCH_DAY } from './synthetic.ts';
import type { Figure } from './measure.ts';

export const DUCKDB_BENCH = { threads: 2, memoryLimit: '6GB' };

/**
 * Writes `n` clicks straight into the archive layout (<dir>/clicks/dt=/hour=/*.parquet) with DuckDB,
 * without JSON: 5,000 skewed urls, 200k visitors, over one day. The visitor hash columns hold DuckDB's
 * hash() instead of the pinned MurmurHash3 (that would cost ~20 s per 100M in JS): the replay does the
 * same work, its HLL numbers just do not match a stream over the same ids.
 */
export async function writeSyntheticArchive(dir: string, n: number): Promise<void> {
  // Written once per size and run directory (100M events take ~5 minutes): a marker says it is whole.
  const complete = join(dir, `_complete-${n}`);
  if (await access(complete).then(() => true, () => false)) return;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'clicks'), { recursive: true });
  const db = await DuckDb.open(':memory:', DUCKDB_BENCH);
  try {
    const step = 86_400_000 / n;
    await db.run(`COPY (
      SELECT 'c' || i AS event_id,
             epoch_ms(${BENCH_DAY} + (i * ${step})::BIGINT)::TIMESTAMP_MS AS ts,
             '/p/' || ((hash(i) % 5000) * (hash(i + 1) % 5000) // 5000)::BIGINT AS url,
             'v' || (hash(i * 7) % 200000)::BIGINT AS visitor_id,
             NULL::VARCHAR AS country, NULL::VARCHAR AS referrer, NULL::VARCHAR AS user_agent,
             (hash('v' || (hash(i * 7) % 200000)::BIGINT) >> 32)::UINTEGER AS _h_visitor_id_hi,
             (hash('v' || (hash(i * 7) % 200000)::BIGINT) & 4294967295)::UINTEGER AS _h_visitor_id_lo,
             'bench:0' AS _source, i AS _offset, epoch_ms(${BENCH_DAY})::TIMESTAMP_MS AS _ingest_ts,
             strftime(epoch_ms(${BENCH_DAY} + (i * ${step})::BIGINT)::TIMESTAMP_MS, '%Y-%m-%d') AS dt,
             strftime(epoch_ms(${BENCH_DAY} + (i * ${step})::BIGINT)::TIMESTAMP_MS, '%H') AS hour
      FROM range(${n}) t(i)
    ) TO ${quoteString(join(dir, 'clicks'))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE)`);
  } finally {
    db.close();
  }
  await writeFile(complete, '');
}

/**
 * The peer: the same numbers in plain DuckDB SQL over the same files (what a user would write), fetched
 * into the process as columns, as Concord's replay hands its results to the caller.
 */
async function rawSql(db: DuckDb, dir: string): Promise<number> {
  const cols = await db.columns(`
    SELECT url, epoch_ms(ts) - epoch_ms(ts) % 60000 AS w, count(*) AS views
    FROM read_parquet(${quoteString(partitionGlob(dir, clicksSchema))}, hive_partitioning = false) GROUP BY ALL`);
  return cols.url?.length ?? 0;
}

async function rawSqlHll(db: DuckDb, dir: string): Promise<number> {
  const cols = await db.columns(`
    SELECT epoch_ms(ts) - epoch_ms(ts) % 300000 AS w, approx_count_distinct(visitor_id) AS visitors
    FROM read_parquet(${quoteString(partitionGlob(dir, clicksSchema))}, hive_partitioning = false) GROUP BY ALL`);
  return cols.w?.length ?? 0;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  // Start each side with the previous one's garbage collected (a replay of 10M events leaves ~4M
  // results behind; collecting them inside the next timer cost it 1-2 s).
  (globalThis as { gc?: () => void }).gc?.();
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export async function replayVsSql(dir: string, n: number): Promise<Figure[]> {
  const db = await DuckDb.open(':memory:', DUCKDB_BENCH);
  try {
    // Warm-up: file metadata and OS cache for both sides.
    await rawSql(db, dir);
    const concord = await timed(() => replay(pageViewsPerMinute, dir, { db }));
    const peer = await timed(() => rawSql(db, dir));
    const hll = await timed(() => replay(uniqueVisitors5m(), dir, { db, exactDistinct: false }));
    const peerHll = await timed(() => rawSqlHll(db, dir));
    return [
      { metric: 'replay one day from Parquet: views/min/URL', events: n, seconds: concord, peer: 'raw DuckDB SQL (GROUP BY, rows fetched)', peerSeconds: peer, target: '>= 0.5x raw SQL, >= 10M events/s' },
      {
        metric: 'replay: HLL unique visitors/5 min (exact registers, hash stored at archive time)', events: n, seconds: hll,
        peer: 'DuckDB approx_count_distinct (its own HLL)', peerSeconds: peerHll, target: '>= 4M events/s',
      },
    ];
  } finally {
    db.close();
  }
}
