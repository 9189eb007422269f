import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../infra/postgres.ts';
import { backfillArchiveDir, backfillBench, backfillMarkdown, writeBackfillArchive, type BackfillFigures } from './backfill.ts';
import { demoClicks, streamIntoStore } from './store-write.ts';

/**
 * The store section of `npm run bench`: (1) the demo's stream step (every click pipeline over the
 * demo's day) into embedded DuckDB and into PostgreSQL, next to the stream runtime alone in the same
 * run; (2) backfill of a reconciled day with every cell, then 2% of its cells, dirty (bench/backfill.ts), on both.
 */
export async function storeBenchmarks(mode: 'tiny' | 'quick' | 'full', workDir: string): Promise<string> {
  const clicks = mode === 'tiny' ? 20_000 : 1_000_000;
  const urls = mode === 'tiny' ? 7 : 140; // x 1,440 minutes: 10,080 or 201,600 cells
  const pgUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const lines = demoClicks(clicks);
  const targets: [string, string | undefined][] = [
    ['stream runtime alone (no store)', undefined],
    ['embedded DuckDB', `duckdb:${join(workDir, `store-stream-${Date.now()}.duckdb`)}`],
    ['PostgreSQL', pgUrl],
  ];
  const live: string[] = [];
  let alone = 0;
  for (const [name, url] of targets) {
    (globalThis as { gc?: () => void }).gc?.();
    const schema = url === pgUrl ? `${process.env.BENCH_SCHEMA_PREFIX ?? 'bench'}_stream_${Date.now()}` : undefined;
    const r = await streamIntoStore(lines, url, schema);
    if (schema) await dropSchema(pgUrl, schema);
    const rate = r.events / r.seconds;
    if (url === undefined) alone = rate;
    live.push(`| ${name} | ${r.events.toLocaleString('en-US')} | ${r.results.toLocaleString('en-US')} | ${r.seconds.toFixed(2)} s | ${Math.round(rate).toLocaleString('en-US')}/s | ${(rate / alone).toFixed(2)}x |`);
  }
  const archive = backfillArchiveDir(workDir, urls);
  if (!existsSync(archive)) await writeBackfillArchive(archive, urls);
  const figures: BackfillFigures[] = [];
  // Every cell dirty, then 2% of them spread over every minute (every window of the day holds one).
  for (const every of [1, 50]) {
    figures.push(await backfillBench(`duckdb:${join(workDir, `store-backfill-${Date.now()}.duckdb`)}`, archive, urls, every));
    figures.push(await backfillBench(pgUrl, archive, urls, every));
  }
  return [
    '### The demo\'s stream step into the store (every click pipeline; results, late events and W committed in batches)', '',
    '| store | events | results | time | events/s | vs the stream alone |', '|---|---:|---:|---:|---:|---:|', ...live, '',
    backfillMarkdown(figures),
  ].join('\n');
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
}
