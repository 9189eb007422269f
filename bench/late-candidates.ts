/**
 * `tsx bench/late-candidates.ts [clicks=2000000] [--keep]`: reconcile's late set over an archive of 6
 * partitions without the workers' log, two ways over the same files, per definition: each partition's W
 * from DuckDB with only the candidates read back (`archiveJudgement`, what reconcile runs) against every
 * event read back into JS in arrival order and judged there (`judgeByPartition` over `readArrivalOrder`).
 * Prints both times and whether the late sets (partition, offset, W met, window) are identical.
 * `--keep` reuses the archive of an earlier run in .concord/bench/late-candidates.
 */
import { rmSync } from 'node:fs';
import { readArrivalOrder } from '../batch/archive-reader.ts';
import { ParquetArchive } from '../batch/parquet-archive.ts';
import { seedRegistry } from '../examples/seed.ts';
import { generateDay } from '../generate/realistic-day.ts';
import { checkDefinition, fieldsRead, type PipelineDefinition, type WindowedPipeline } from '../pipeline/definition.ts';
import { hopping } from '../pipeline/windows.ts';
import { archiveJudgement, judgeByPartition, type JudgedLate } from '../reconcile/partition-lateness.ts';
import type { LineBatch } from '../sources/source.ts';

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 2_000_000);
const dir = '.concord/bench/late-candidates';
const PARTITIONS = 6;
const registry = seedRegistry();
const schema = registry.schema('clicks');

if (!args.includes('--keep')) {
  rmSync(dir, { recursive: true, force: true });
  const day = generateDay({ seed: 5, date: '2026-11-23', clicks: n, transactions: 0, lateFraction: 0.01 });
  // Keyed by url as `concord produce` partitions clicks (any stable hash will do here).
  const parts: string[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const line of day.clicks) {
    const url = (JSON.parse(line) as { url: string }).url;
    let h = 7;
    for (const c of url) h = (h * 31 + c.charCodeAt(0)) % 1_000_003;
    parts[h % PARTITIONS]!.push(line);
  }
  // The archiver's order: 5,000 records of each partition in turn.
  async function* batches(): AsyncGenerator<LineBatch> {
    const at = parts.map(() => 0);
    for (let more = true; more;) {
      more = false;
      for (let p = 0; p < PARTITIONS; p++) {
        const lines = parts[p]!.slice(at[p], at[p]! + 5_000);
        if (lines.length === 0) continue;
        more = true;
        yield { source: `clicks:${p}`, firstOffset: at[p]!, lines };
        at[p]! += lines.length;
      }
    }
  }
  const started = performance.now();
  await new ParquetArchive(dir, schema, { sketched: registry.sketchedFields('clicks') }).write(batches());
  console.log(`archived ${n} clicks in ${PARTITIONS} partitions: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const views = registry.pipeline('page_views_per_minute') as WindowedPipeline;
const definitions: PipelineDefinition[] = [
  ...registry.pipelinesOf('clicks'),
  checkDefinition({ ...views, name: 'views_5m_every_1m', window: hopping(300_000, 60_000) }),
  checkDefinition({
    kind: 'rule', name: 'busy_url', description: 'More than 3 views of one url within 2 minutes', schema, key: 'url', where: [], watermark: views.watermark, allowedLateness: 120_000,
    rule: { kind: 'lookback', measure: 'count', output: 'n', span: 120_000, threshold: 3 },
  }),
];
const row = (l: JudgedLate) => `${l.position.source}@${l.position.offset}|${l.watermark}|${l.window?.start ?? ''}|${l.evaluatedOnArrival}`;
for (const def of definitions) {
  const t0 = performance.now();
  const candidates = await archiveJudgement(dir, def);
  const t1 = performance.now();
  const everyEvent = judgeByPartition(def, await readArrivalOrder(dir, def.schema, { fields: [...new Set([...fieldsRead(def), def.schema.timeField])] }));
  const t2 = performance.now();
  const same = JSON.stringify([candidates.late.map(row), candidates.skippedWindows.map(row)]) === JSON.stringify([everyEvent.late.map(row), everyEvent.skippedWindows.map(row)]);
  console.log(`${def.name}: ${candidates.late.length} late, ${candidates.skippedWindows.length} skipped windows; candidates from DuckDB ${((t1 - t0) / 1000).toFixed(2)} s, every event in JS ${((t2 - t1) / 1000).toFixed(2)} s; identical: ${same}`);
}
