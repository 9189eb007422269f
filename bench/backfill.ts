import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { join } from 'node:path';
import { ParquetArchive } from '../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../examples/seed.ts';
import { definitionVersion } from '../pipeline/definition.ts';
import { backfillDay } from '../reconcile/backfill-day.ts';
import type { WindowResult } from '../schemas/results.ts';
import { memoryBatches } from '../sources/jsonl-file.ts';
import { openStore } from '../store/open-store.ts';

const DAY = '2026-11-23';
const T0 = Date.UTC(2026, 10, 23);
const M = 60_000;

export interface BackfillFigures {
  backend: string;
  cells: number;
  /** Every n-th cell of the day is dirtied (1: every cell; 50: 2%, spread over every minute). */
  dirtyEvery: number;
  /** Writing the day's rows into a provisional day (generation 0, nothing held). */
  provisionalWriteS: number;
  /** Rows with a new value for every `dirtyEvery`-th cell into the reconciled day: those cells dirtied. */
  reconciledWriteS: number;
  dirty: number;
  backfillS: number;
  changed: number;
}

/** `urls` urls x 1,440 minutes of page views; the archive holds one click per cell, two for every other url. */
export async function writeBackfillArchive(dir: string, urls: number): Promise<void> {
  const lines: string[] = [];
  for (let m = 0; m < 1440; m++) {
    for (let u = 0; u < urls; u++) {
      const ts = T0 + m * M + 1_000 + u;
      lines.push(JSON.stringify({ event_id: `e${m}-${u}`, ts, url: `/u${u}`, visitor_id: `v${u}` }));
      if (u % 2 === 0) lines.push(JSON.stringify({ event_id: `f${m}-${u}`, ts: ts + 1, url: `/u${u}`, visitor_id: `w${u}` }));
    }
  }
  await new ParquetArchive(dir, pageViewsPerMinute.schema).write(memoryBatches('file:bench.jsonl', lines, 50_000));
}

/**
 * Backfill of a reconciled day with dirty cells: the day's rows are written (provisional), published as
 * version 1 with one view per cell (what a reconcile saw before the second clicks were archived), then
 * the stream's rows with new values arrive for every `dirtyEvery`-th cell (1: all dirty; 50: 2% of the
 * cells, a few in every minute, so every window of the day holds a dirty cell), then `backfillDay`
 * recomputes the dirty cells from the archive (half of them change).
 */
export async function backfillBench(storeUrl: string, archiveDir: string, urls: number, dirtyEvery = 1): Promise<BackfillFigures> {
  const registry = seedRegistry();
  const def = registry.pipeline(pageViewsPerMinute.name);
  const version = definitionVersion(def);
  // BENCH_SCHEMA_PREFIX: tells this run's PostgreSQL schemas from other runs' on a shared server.
  const schema = `${process.env.BENCH_SCHEMA_PREFIX ?? 'bench'}_bf_${randomUUID().slice(0, 8)}`;
  const store = await openStore(storeUrl, { registry, schema });
  try {
    const rows = (views: number, revision: number, every = 1): WindowResult[] => {
      const out: WindowResult[] = [];
      for (let m = 0; m < 1440; m++) {
        for (let u = 0; u < urls; u++) {
          if ((m * urls + u) % every !== 0) continue;
          const start = T0 + m * M;
          out.push({ kind: 'window', pipeline: def.name, windowStart: start, windowEnd: start + M, key: { url: `/u${u}` }, values: { views }, revision, watermark: start + M, definitionVersion: version });
        }
      }
      return out;
    };
    const first = rows(1, 0);
    let t = performance.now();
    for (let i = 0; i < first.length; i += 20_000) await store.writeRealtime(first.slice(i, i + 20_000));
    const provisionalWriteS = (performance.now() - t) / 1000;
    await store.publishDay(def.name, DAY, first, { jobId: 'bench-reconcile', provenance: 'reconciled' });
    const second = rows(3, 1, dirtyEvery);
    t = performance.now();
    for (let i = 0; i < second.length; i += 20_000) await store.writeRealtime(second.slice(i, i + 20_000));
    const reconciledWriteS = (performance.now() - t) / 1000;
    const dirty = (await store.status(def.name, DAY)).dirty;
    t = performance.now();
    const summary = await backfillDay({ def, date: DAY, store, archiveDir, jobId: 'bench-backfill', ...(process.env.BENCH_TRACE ? { progress: ({ done, what }: { done: number; what: string }) => { process.stderr.write(`${((performance.now() - t) / 1000).toFixed(2)} s [${done}] ${what}\n`); } } : {}) });
    const backfillS = (performance.now() - t) / 1000;
    return { backend: store.backend, cells: first.length, dirtyEvery, provisionalWriteS, reconciledWriteS, dirty, backfillS, changed: summary.changed };
  } finally {
    await store.close();
    if (storeUrl.startsWith('postgres')) {
      const client = new pg.Client({ connectionString: storeUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
    }
  }
}

export function backfillMarkdown(rows: readonly BackfillFigures[]): string {
  return ['### Dirty cells and backfill (page views per minute, a reconciled day with every cell or 2% of its cells dirty)', '',
    '| store | cells | write into a provisional day | new rows into the reconciled day (dirtied) | dirty | backfill | changed |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.backend === 'duckdb' ? 'embedded DuckDB' : 'PostgreSQL'} | ${r.cells.toLocaleString('en-US')} | ${r.provisionalWriteS.toFixed(2)} s | ${r.reconciledWriteS.toFixed(2)} s | ${r.dirty.toLocaleString('en-US')} (${(100 / r.dirtyEvery).toFixed(0)}%) | ${r.backfillS.toFixed(2)} s | ${r.changed.toLocaleString('en-US')} |`),
  ].join('\n');
}

export const backfillArchiveDir = (workDir: string, urls: number) => join(workDir, `backfill-archive-${urls}`);
