import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { resolveOptions } from '../../generate/day-options.ts';
import { generateDay, writeJsonl } from '../../generate/realistic-day.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import type { ReconcileReport } from '../../reconcile/reconcile.ts';
import { reconcileDay, UnexplainedDifferencesError } from '../../reconcile/reconcile-day.ts';
import { reconciliationMarkdown, type DayReconciliation } from '../../reconcile/day-report.ts';
import { formatSummary } from '../../reconcile/summary.ts';
import { openStore } from '../../store/open-store.ts';
import { inputEnd } from '../../store/input-ends.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { deadLetterToJson } from '../../schemas/decode.ts';
import { lateToJson, resultToJson, type ResultRecord, type WindowResult } from '../../schemas/results.ts';
import type { EventSchema } from '../../schemas/schema.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { runStream } from '../../stream/runtime.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';
import { clearDemoDir } from '../demo-dir.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { safeName } from '../../pipeline/names.ts';
import { Progress } from '../progress.ts';
import { latePerPipeline, loadRegistry, numberFlag } from './shared.ts';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'generate a day, stream it into the store, archive, replay, reconcile and correct the day (no Kafka/Redis)',
  usage: 'concord demo [--dir .concord/demo] [--clicks 1000000] [--transactions 100000] [--seed 42] [--date 2026-11-23]',
  options: [
    '--dir DIR                  working directory for inputs, outputs, archive and reports (default .concord/demo);',
    '                           its earlier run\'s outputs are replaced; a DIR holding other files is refused',
    '--clicks N                 clicks in the generated day (default 1000000)',
    '--transactions N           card transactions (default 100000, with fraud rings)',
    '--seed N                   generator seed (default 42)',
    '--date D                   the generated UTC day (default 2026-11-23)',
    'The demo generates the seed schemas (clicks, transactions) and runs every pipeline of the definitions',
    'that reads them (default: the seed pipelines). The result store is embedded DuckDB in DIR/store.duckdb; afterwards',
    '`npm run concord -- report --date D --store duckdb:DIR/store.duckdb` prints the next-day report.',
  ],
  flags: { dir: { type: 'string' }, clicks: { type: 'string' }, transactions: { type: 'string' }, seed: { type: 'string' }, date: { type: 'string' } },
  async run(v) {
    const started = Date.now();
    const registry = await loadRegistry(v);
    const pipelines = registry.pipelines.filter((p) => p.schema.name === 'clicks' || p.schema.name === 'transactions');
    if (pipelines.length === 0) throw new ConfigError(`${registry.origin} has no pipeline over the generated schemas clicks or transactions: the demo has nothing to run`);
    const dir = String(v.dir ?? '.concord/demo');
    const date = String(v.date ?? '2026-11-23');
    const dayOptions = {
      seed: v.seed === undefined ? 42 : numberFlag(String(v.seed), '--seed', 'any'),
      date,
      clicks: v.clicks === undefined ? 1_000_000 : numberFlag(String(v.clicks), '--clicks'),
      transactions: v.transactions === undefined ? 100_000 : numberFlag(String(v.transactions), '--transactions'),
    };
    resolveOptions(dayOptions); // the generator's own checks (a calendar date, a day's maximum) before the directory is touched
    await clearDemoDir(dir);
    const say = (text: string) => process.stderr.write(`${text}\n`);

    say('1/5 generating a day of events (2% out of order within B, 0.5% late beyond B + L from offline mobile clients)');
    const day = generateDay(dayOptions);
    // The embedded log: one in-process topic per schema, read in arrival order by every consumer.
    const log: Record<string, readonly string[]> = { clicks: day.clicks, transactions: day.transactions };
    await mkdir(join(dir, 'input'), { recursive: true });
    for (const [topic, lines] of Object.entries(log)) await writeJsonl(join(dir, 'input', `${topic}.jsonl`), lines);

    const bySchema = new Map<EventSchema, PipelineDefinition[]>();
    for (const p of pipelines) bySchema.set(p.schema, [...(bySchema.get(p.schema) ?? []), p]);

    say('2/5 streaming: event-time windows, watermarks, allowed lateness -> the result store (embedded DuckDB)');
    const storeUrl = `duckdb:${join(dir, 'store.duckdb')}`;
    const store = await openStore(storeUrl, { registry });
    const sink = new StoreSink(store);
    for (const [schema, pipelines] of bySchema) {
      const lines = log[schema.name] ?? [];
      const source = `file:${schema.name}.jsonl`;
      const progress = new Progress(`  stream ${schema.name}`, lines.length);
      const outs = new Map(pipelines.map((p) => [p.name, new JsonlWriter(join(dir, 'realtime', `${safeName(p.name)}.jsonl`))]));
      const late = new JsonlWriter(join(dir, 'realtime', `${safeName(schema.name)}.late.jsonl`));
      const dlq = new JsonlWriter(join(dir, 'realtime', `${safeName(schema.name)}.dead-letter.jsonl`));
      const stats = await runStream({
        pipelines,
        source: memoryBatches(source, lines),
        onResult: (r) => { outs.get(r.pipeline)!.write(resultToJson(r)); sink.result(r); },
        onLate: (l) => { late.write(lateToJson(l, schema)); sink.lateEvent(l, false); },
        onLateAccepted: (l) => sink.lateEvent(l, true),
        onDeadLetter: (d) => { dlq.write(deadLetterToJson(d, schema.name)); sink.deadLetter(d, schema.name); },
        afterBatch: async (s) => {
          progress.update(s.lines, `${s.late} late`);
          await Promise.all([...[...outs.values(), late, dlq].map((w) => w.maybeFlush()), sink.afterBatch(s.inputWatermarks)]);
          await sink.checkpointIfDue(); // after the commit, not inside it
        },
      });
      sink.watermarksOf(stats.inputWatermarks);
      for (const p of pipelines) sink.inputEnded(p.name, inputEnd('concord demo', `the generated ${schema.name} of ${date} to its end (${stats.lines} lines)`, stats.inputWatermarks[p.name]));
      await sink.flush();
      await Promise.all([...outs.values(), late, dlq].map((w) => w.close()));
      progress.done(stats.lines, `${stats.results} results, ${stats.late} late (side output), ${stats.deadLetters} rejected${latePerPipeline(stats.latePerPipeline, pipelines.map((p) => p.name))}`);
    }

    say('3/5 archiving every event (late ones included) to Parquet by event time');
    const archiveDir = join(dir, 'archive');
    for (const schema of bySchema.keys()) {
      const lines = log[schema.name] ?? [];
      const progress = new Progress(`  archive ${schema.name}`, lines.length);
      const stats = await new ParquetArchive(archiveDir, schema, { sketched: registry.sketchedFields(schema.name) }).write(memoryBatches(`file:${schema.name}.jsonl`, lines), {
        onProgress: (n) => progress.update(n),
      });
      progress.done(stats.events, `events in ${stats.files.length} files`);
    }

    say('4/5 replaying the archive with DuckDB (complete data, same definitions)');
    for (const p of pipelines) {
      const t = Date.now();
      const results = await replay(p, archiveDir);
      const out = new JsonlWriter(join(dir, 'replay', `${safeName(p.name)}.jsonl`));
      for (const r of results) out.write(resultToJson(r));
      await out.close();
      say(`  ${p.name}: ${results.length} results in ${Date.now() - t} ms${hllNote(p, results)}`);
    }

    say(`5/5 reconciling ${date}: diff the stored realtime rows against the replay, attribute, publish the corrected day`);
    const reports: ReconcileReport[] = [];
    const days: DayReconciliation[] = [];
    try {
      for (const p of pipelines) {
        let rec: DayReconciliation;
        try {
          rec = await reconcileDay({ def: p, date, store, archiveDir, jobId: `demo:${p.name}:${date}`, reportDir: join(dir, 'reports') });
        } catch (error) {
          if (!(error instanceof UnexplainedDifferencesError)) throw error;
          rec = error.reconciliation;
        }
        days.push(rec);
        reports.push(rec.report);
      }
    } finally {
      await store.close();
    }
    process.stdout.write(`\n${formatSummary(reports)}\n\n${reconciliationMarkdown(days)}\n`);
    for (const r of reports) {
      const sample = r.differences.slice(0, 2);
      for (const d of sample) {
        process.stdout.write(
          `  e.g. ${r.pipeline} ${JSON.stringify(d.cell)}: realtime ${JSON.stringify(d.realtime)} vs replay ${JSON.stringify(d.replay)} ` +
            `<- ${d.cause}: ${d.late_events.slice(0, 3).map((e) => `${e.id} (ts ${e.ts}, met W ${e.watermark})`).join(', ')}${d.late_events.length > 3 ? ', ...' : ''}\n`,
        );
      }
    }
    for (const d of days) {
      if (d.status === 'published') process.stdout.write(`${d.pipeline}: version ${d.generation} of ${date} is live, ${d.corrections} cells corrected\n`);
      if (d.status === 'unchanged') process.stdout.write(`${d.pipeline}: version ${d.generation} of ${date}, live, already holds this replay: nothing changed\n`);
    }
    process.stdout.write(
      `\nOutputs in ${dir}/ (input, realtime, archive, replay, reports/${date}/*.md|json, store.duckdb). Took ${((Date.now() - started) / 1000).toFixed(1)} s.\n` +
        `Next-day report: npm run concord -- report --date ${date} --store ${storeUrl}\n` +
        `See it: npm run concord -- serve --store ${storeUrl} --archive ${archiveDir}   (then open http://127.0.0.1:8080/#/day/${date})\n`,
    );
    return reports.some((r) => r.unexplained > 0) ? 3 : 0;
  },
};

function hllNote(p: PipelineDefinition, results: ResultRecord[]): string {
  if (p.kind !== 'windowed' || !p.aggregates.some((a) => a.aggregate.kind === 'approx_distinct')) return '';
  // The HLL outputs only: an approx_percentile's exact value is beside its estimate too.
  const sketched = p.aggregates.filter((a) => a.aggregate.kind === 'approx_distinct').map((a) => a.output);
  let err = 0;
  let n = 0;
  for (const r of results as WindowResult[]) {
    for (const name of sketched) {
      const est = r.values[name], exact = r.extra?.[`${name}_exact`];
      if (typeof est === 'number' && typeof exact === 'number' && exact > 0) { err += Math.abs(est - exact) / exact; n++; }
    }
  }
  return n > 0 ? ` (HyperLogLog mean error vs exact: ${((100 * err) / n).toFixed(2)}%)` : '';
}
