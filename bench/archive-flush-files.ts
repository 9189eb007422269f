/**
 * What `archive --from-kafka`'s flush interval costs the next day's replay: the same events archived as
 * the archiver appends them, one flush per partition every 5 s (the old default) or every 60 s, then
 * `replay` of page views over each archive. Rate and partitions as in the soak (docs/benchmarks.md,
 * "Archive flush interval"). Usage: tsx bench/archive-flush-files.ts [events/s, default 1000] [minutes, default 10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listArchiveFiles, ParquetArchive } from '../batch/parquet-archive.ts';
import { replay } from '../batch/replay.ts';
import { pageViewsPerMinute } from '../examples/seed.ts';
import type { LineBatch } from '../sources/source.ts';

const [rateArg = '1000', minutesArg = '10'] = process.argv.slice(2);
const rate = Number(rateArg), minutes = Number(minutesArg), PARTITIONS = 6;
const schema = pageViewsPerMinute.schema;
const start = Date.parse('2026-12-05T10:00:00Z');

/** Partition p's events of [from, to) seconds, as the archiver buffers them. */
function lines(p: number, from: number, to: number, first: number): LineBatch {
  const per = rate / PARTITIONS, out: string[] = [], offsets: number[] = [];
  for (let s = from; s < to; s++) {
    for (let i = 0; i < per; i++) {
      const o = first + offsets.length;
      out.push(JSON.stringify({ event_id: `e${p}-${o}`, ts: start + s * 1000 + Math.floor((i * 1000) / per), url: `/p/${o % 300}`, visitor_id: `v${o % 60000}` }));
      offsets.push(o);
    }
  }
  return { source: `soak.clicks:${p}`, firstOffset: first, lines: out, offsets };
}

async function archiveWith(flushSeconds: number): Promise<{ dir: string; files: number; writeS: number }> {
  const dir = mkdtempSync(join(tmpdir(), `concord-flush-${flushSeconds}s-`));
  const archive = new ParquetArchive(dir, schema);
  const next = new Array<number>(PARTITIONS).fill(0);
  const t = performance.now();
  for (let from = 0; from < minutes * 60; from += flushSeconds) {
    for (let p = 0; p < PARTITIONS; p++) {
      const batch = lines(p, from, Math.min(from + flushSeconds, minutes * 60), next[p]!);
      const last = batch.offsets!.at(-1)!;
      await archive.write((async function* () { yield batch; })(), { mode: 'append', stem: `soak.clicks_${p}-${next[p]}-${last}` });
      next[p] = last + 1;
    }
  }
  return { dir, files: (await listArchiveFiles(dir, schema)).length, writeS: (performance.now() - t) / 1000 };
}

const rows: string[] = [];
for (const flush of [5, 60]) {
  const a = await archiveWith(flush);
  const times: number[] = [];
  let results = 0;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    results = (await replay(pageViewsPerMinute, a.dir)).length;
    times.push((performance.now() - t) / 1000);
  }
  const best = Math.min(...times);
  const perDay = Math.round((a.files * 1440) / minutes);
  rows.push(`| ${flush} s | ${a.files} | ${perDay.toLocaleString('en-US')} | ${a.writeS.toFixed(1)} s | ${best.toFixed(2)} s | ${results} |`);
  rmSync(a.dir, { recursive: true, force: true });
}
process.stdout.write(`${rate} events/s over ${PARTITIONS} partitions, ${minutes} min of events (${(rate * minutes * 60).toLocaleString('en-US')})\n`);
process.stdout.write('| flush every | files | files a day at this rate | archive write | replay (best of 3) | results |\n|---|---|---|---|---|---|\n');
process.stdout.write(rows.join('\n') + '\n');
