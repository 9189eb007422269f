import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDb, quoteString } from '../../batch/duckdb.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { partitionGlob } from '../../batch/archive-layout.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { clicksSchema } from '../../examples/seed.ts';
import { resultToJson } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-archiver-');
afterAll(() => ws.cleanup());
const COUNT = 20_000, SEED = 5, DATE = '2026-11-23';

function archiver(prefix: string, dir: string, extra: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'archive', '--from-kafka', '--schema', 'clicks', '--dir', dir, ...extra], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  return { child, exited: new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) => child.on('exit', (code, signal) => r({ code, signal, stderr }))) };
}

function listParquet(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith('_')) walk(join(d, e.name));
      else if (e.name.endsWith('.parquet')) out.push(join(d, e.name));
    }
  };
  walk(join(dir, 'clicks'));
  return out;
}

const markerNames = (dir: string): string[] => {
  try {
    return readdirSync(join(dir, 'clicks', '_committed'));
  } catch {
    return [];
  }
};
/** How far the markers vouch for, summed over partitions: grows with every flush (markers are replaced, not added). */
const markers = (dir: string) => markerNames(dir).reduce((n, m) => n + Number(/-(\d+)$/.exec(m)?.[1] ?? 0) + 1, 0);

describe('concord archive --from-kafka (real broker), killed and restarted', () => {
  const prefix = `a${randomUUID().slice(0, 6)}.`;
  const dir = join(ws.dir, 'from-kafka');
  beforeAll(() => {
    const r = concord(['produce', '--schema', 'clicks', '--count', String(COUNT), '--seed', String(SEED), '--date', DATE, '--invalid-fraction', '0.002'], { CONCORD_TOPIC_PREFIX: prefix });
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);

  it('leaves no duplicate rows and no gaps, and replays like an archive of the same events', async () => {
    const kills = Number(process.env.CONCORD_KILLS ?? 5);
    for (let i = 0; i < kills; i++) {
      const before = markers(dir);
      const { child, exited } = archiver(prefix, dir, ['--flush-records', '500']);
      const started = Date.now();
      while (markers(dir) <= before && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 200)));
      child.kill('SIGKILL');
      expect((await exited).signal).toBe('SIGKILL');
    }
    // A kill between a flush's renames and its marker leaves files no marker vouches for: plant one
    // (a copy of real rows under an unmarked name); the restart must remove it, or rows double.
    const committed = listParquet(dir)[0]!;
    const orphan = committed.replace(/-\d+-\d+\.parquet$/, '-900000-900001.parquet');
    copyFileSync(committed, orphan);
    const { exited } = archiver(prefix, dir, ['--flush-records', '500', '--stop-when-idle', '2s']);
    const done = await exited;
    expect(done.code, done.stderr).toBe(0);
    expect(existsSync(orphan)).toBe(false);
    // One marker per partition, the newest: a marker per flush grew _committed/ by ~100,000 a day live.
    const partitionsMarked = new Set(markerNames(dir).map((m) => m.replace(/-\d+-\d+$/, '')));
    expect(markerNames(dir).length).toBe(partitionsMarked.size);

    const db = await DuckDb.open();
    try {
      const [row] = await db.rows(
        `SELECT count(*) AS n, count(DISTINCT (_source, _offset)) AS distinct_positions FROM read_parquet(${quoteString(partitionGlob(dir, clicksSchema))})`,
      );
      const rejected = readdirSync(join(dir, 'clicks', '_rejected'))
        .map((f) => readFileSync(join(dir, 'clicks', '_rejected', f), 'utf8').split('\n').filter(Boolean).length)
        .reduce((a, b) => a + b, 0);
      expect(Number(row!.n)).toBe(Number(row!.distinct_positions)); // no duplicates
      expect(Number(row!.n) + rejected).toBe(COUNT); // no gaps: every record is a row or a rejected line
      expect(rejected).toBeGreaterThan(0);
    } finally {
      db.close();
    }

    // The same events archived from a file replay to the same numbers.
    const day = generateDay({ seed: SEED, date: DATE, clicks: COUNT, transactions: 0, fraudRings: 0, maxOutOfOrderness: 20_000, invalidFraction: 0.002 });
    const fileDir = join(ws.dir, 'from-file');
    await new ParquetArchive(fileDir, clicksSchema).write(memoryBatches('file:clicks.jsonl', day.clicks));
    const fromKafka = (await replay(pageViewsPerMinute, dir)).map(resultToJson);
    const fromFile = (await replay(pageViewsPerMinute, fileDir)).map(resultToJson);
    expect(fromKafka).toEqual(fromFile);
  }, 300_000);
});

// The group's committed offsets said where to resume, whatever the directory: a second --dir (a lost
// archive rebuilt, a copy elsewhere) got 0 records, exit 0, and no way to fill it under that prefix.
describe('concord archive --from-kafka into a second directory', () => {
  it('is refused while the group has archived elsewhere; under a group of its own it archives everything', async () => {
    const prefix = `d${randomUUID().slice(0, 6)}.`;
    const env = { CONCORD_TOPIC_PREFIX: prefix };
    const produced = concord(['produce', '--schema', 'clicks', '--count', '400', '--seed', '4', '--date', DATE, '--partitions', '2'], env);
    expect(produced.code, produced.stderr).toBe(0);
    const first = await archiver(prefix, join(ws.dir, 'first'), ['--stop-when-idle', '1s']).exited;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('of 400 records read');
    const second = await archiver(prefix, join(ws.dir, 'second'), ['--stop-when-idle', '1s']).exited;
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`consumer group ${prefix.replace('.', '\\.')}concord-archiver-clicks has archived ${prefix.replace('.', '\\.')}clicks partition 0 up to offset \\d+, but .*second holds it only up to 0`));
    expect(second.stderr).toContain('`--group NAME`');
    const own = await archiver(prefix, join(ws.dir, 'second'), ['--stop-when-idle', '1s', '--group', `${prefix}second`]).exited;
    expect(own.code, own.stderr).toBe(0);
    expect(own.stderr).toMatch(/archived \d+ clicks events from Kafka and \d+ rejected records .* of 400 records read/);
  }, 120_000);
});

// After `npm run infra:down -- --clean` (or any delete) the topic is made again with offsets from 0: the
// archive's commit markers skipped its records as "already archived" (50,009 of them) and kept the old
// topic's events.
describe('concord archive --from-kafka of a topic deleted and made again', () => {
  it('is refused (exit 2) naming both topic ids, not skipped as already archived', async () => {
    const prefix = `r${randomUUID().slice(0, 6)}.`;
    const env = { CONCORD_TOPIC_PREFIX: prefix };
    const dir = join(ws.dir, 'recreated');
    const produce = (seed: number) => {
      const r = concord(['produce', '--schema', 'clicks', '--count', '300', '--seed', String(seed), '--date', DATE, '--partitions', '1'], env);
      expect(r.code, r.stderr).toBe(0);
    };
    produce(1);
    const first = await archiver(prefix, dir, ['--stop-when-idle', '1s']).exited;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/archived \d+ clicks events .* of 300 records read/);
    const sources = JSON.parse(readFileSync(join(dir, 'clicks', '_sources.json'), 'utf8')) as Record<string, string>;
    expect(sources[`kafka:${prefix}clicks`]).toMatch(/^topic id \S+$/);

    await deleteTopic(`${prefix}clicks`);
    produce(2);
    const again = await archiver(prefix, dir, ['--stop-when-idle', '1s']).exited;
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toContain(`archives topic ${prefix}clicks as it was before it was deleted and made again`);
    expect(again.stderr).toContain('Archive the new topic into another --dir');
    expect(again.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);
});
