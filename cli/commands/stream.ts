import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { definitionVersion, isHopping, withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { presentCondition } from '../../pipeline/filter.ts';
import { shellWord } from '../../pipeline/names.ts';
import { deadLetterToJson } from '../../schemas/decode.ts';
import { lateToJson, resultToJson, type ResultRecord } from '../../schemas/results.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import { runStream } from '../../stream/runtime.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import { finalResults } from '../../reconcile/final-results.ts';
import { offsetOf, type LineSource } from '../../sources/source.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { Progress } from '../progress.ts';
import { mostRefusedWarning, reasonsText } from '../rejection-summary.ts';
import { onStopSignal } from '../stop-signals.ts';
import { lateWindowSkipsLine } from '../late-window-skips.ts';
import { loadRegistry, onePipeline, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { inputEnd } from '../../store/input-ends.ts';
import { MixedDaysWatch, daysSpan, mixedDaysMessage, type MixedDays } from '../../store/mixed-days.ts';

export const streamCommand: CommandSpec = {
  name: 'stream',
  summary: 'run a pipeline over a JSONL file in file order with event-time semantics',
  usage: 'concord stream --pipeline NAME --input EVENTS.jsonl --output OUT.jsonl [--late-output LATE.jsonl] [--dead-letter DLQ.jsonl] [--max-out-of-orderness 30s] [--allowed-lateness 5m] [--final] [--store URL]',
  options: [
    '--pipeline NAME            a pipeline of the definitions (`concord validate` lists them)',
    '--input FILE               events, one JSON object per line, read in file order (arrival order); - : stdin',
    '--output FILE              results: every revision (changelog), or with --final the last one per window/key; - : stdout',
    '--late-output FILE         late events: {pipeline, event, watermark, window_start, window_end}',
    '--dead-letter FILE         rejected lines with the reason (default: counted only)',
    ...timingOptions,
    '--final                    write only the highest revision per window/key (and all alerts)',
    '--store URL                also write results, late events, the watermark and the events quarantined for a',
    '                           future timestamp (reconcile\'s evidence) to the result store (also',
    '                           when env CONCORD_STORE names one), the',
    '                           single source of truth `report`, `reconcile --date` and the jobs read:',
    '                           duckdb:<file> (default duckdb:.concord/store.duckdb, one process)',
    ...storeOptions.slice(1),
  ],
  flags: {
    pipeline: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' },
    'late-output': { type: 'string' }, 'dead-letter': { type: 'string' }, final: { type: 'boolean' },
    ...timingFlags, ...storeFlags,
  },
  required: ['pipeline', 'input', 'output'],
  async run(v) {
    const startedAt = Date.now();
    const registry = await loadRegistry(v);
    const def = withTiming(onePipeline(registry, v.pipeline, '`concord run --pipeline all` runs them all over Kafka, `concord demo` over a generated day'), loadSettings(v));
    const out = new JsonlWriter(String(v.output));
    const late = v['late-output'] ? new JsonlWriter(String(v['late-output'])) : undefined;
    const dlq = v['dead-letter'] ? new JsonlWriter(String(v['dead-letter'])) : undefined;
    const writers = [out, late, dlq].filter((w) => w !== undefined);
    const abort = async (error: unknown): Promise<never> => {
      await Promise.all(writers.map((w) => w.abort())); // a failed run leaves no .tmp behind
      throw error;
    };
    // Stopped (Ctrl-C, SIGTERM): no half-written output left beside the files (their .tmp), as on a failure.
    // What a --store got so far is committed per batch, and a rerun rewrites the same rows.
    const removeStop = onStopSignal((signal) => {
      process.stderr.write(`concord stream: ${signal}: stopped before the end of ${String(v.input)}; no output file was written (run it again)\n`);
      void Promise.all(writers.map((w) => w.abort())).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
    const final = v.final === true;
    const kept: ResultRecord[] = [];
    // Lines read, blank and rejected ones too: the summary's events are the lines that were events.
    const progress = new Progress(`stream ${def.name}`, { unit: 'lines read' });
    // The store is optional here: written when named, by --store or env CONCORD_STORE (which its help names).
    const named = v.store !== undefined || (process.env.CONCORD_STORE ?? '') !== '';
    const store = named ? await openStore(storeUrl(v), { registry }) : undefined;
    const daysWritten = new MixedDaysWatch();
    const sink = store ? new StoreSink(store) : undefined;
    // How far this run read its file, kept with the rows decided up to there (store/stream-reach.ts): a
    // reconcile tells the lines appended after it from those the stream read. Stdin or a pipe has no name across runs.
    const reach = sink && statSync(String(v.input), { throwIfNoEntry: false })?.isFile() === true ? { source: '', next: 0 } : undefined;
    const stats = await runStream({
      pipelines: [def],
      source: reach ? reachOf(readJsonlFile(String(v.input)), reach) : readJsonlFile(String(v.input)),
      onResult: (r) => {
        if (sink) daysWritten.wrote(r);
        sink?.result(r);
        if (final) kept.push(r);
        else out.write(resultToJson(r));
      },
      onLate: (l) => {
        sink?.lateEvent(l, false);
        late?.write(lateToJson(l, def.schema));
      },
      onLateAccepted: (l) => sink?.lateEvent(l, true),
      onDeadLetter: (d) => {
        sink?.deadLetter(d, def.schema.name);
        dlq?.write(deadLetterToJson(d, def.schema.name));
      },
      afterBatch: async (s) => {
        progress.update(s.lines, `${s.deadLetters} rejected, ${s.late} late`);
        if (reach) sink?.reached(def.name, reach.source, reach.next);
        await Promise.all([out.maybeFlush(), late?.maybeFlush(), dlq?.maybeFlush(), sink?.afterBatch(s.inputWatermarks)]);
        await sink?.checkpointIfDue(); // after the commit, not inside it
      },
    }).catch(abort);
    // Days this run wrote whose stream rows hold another definition version: contradictions come from the
    // changed definition (the versions and days named are those, not every version the store ever held).
    let otherDays = new Map<string, string[]>();
    // Days whose cells this run contradicted (another input's rows of the same windows): named in the advice,
    // as they need not be the input's day (a window crossing midnight belongs to the day it starts on).
    let contradictedDays: string[] = [];
    // Days this run wrote whose stream rows now come from two definitions (new cells of a changed key,
    // window or filter beside the old definition's): readers of such a day not reconciled see both.
    let mixed: MixedDays = new Map();
    if (sink) {
      sink.watermarksOf(stats.inputWatermarks);
      // The input was read to its end and every window fired: the store learns the stream will not go on
      // (with these last rows), so a nightly reconcile does not wait for it (store/input-ends.ts).
      // Absolute: the note is read by a job worker or `reconcile` started elsewhere.
      const input = String(v.input) === '-' ? 'stdin' : resolve(String(v.input));
      sink.inputEnded(def.name, inputEnd(`concord stream --pipeline ${shellWord(def.name)} --input ${shellWord(input)} (definition version ${definitionVersion(def)})`,
        `${input} to its end (${stats.lines} lines)`, stats.inputWatermarks[def.name]));
      await sink.flush();
      if ((sink.written.conflicting ?? 0) > 0) {
        const versions = await store!.streamDayVersions(def.name, daysWritten.daysOf(def.name));
        otherDays = new Map([...versions].map(([d, m]) => [d, [...m.keys()].filter((x) => x !== definitionVersion(def))] as const).filter(([, vs]) => vs.length > 0));
        const written = new Set(daysWritten.daysOf(def.name));
        contradictedDays = [...await store!.dirtyDays(def.name)].filter(([d, at]) => written.has(d) && at >= startedAt).map(([d]) => d);
      }
      mixed = (await daysWritten.check(store!)).get(def.name) ?? new Map();
      await store!.close();
    }
    let written = stats.results;
    if (final) {
      const rows = [...finalResults(kept).values()];
      for (const r of rows) out.write(resultToJson(r));
      written = rows.length;
    }
    await Promise.all(writers.map((w) => w.close()));
    removeStop();
    progress.done(stats.lines, `${stats.deadLetters} rejected, ${stats.late} late`);
    process.stderr.write(
      `${def.name}: ${stats.events} events, ${written} results written${final ? ' (final)' : ' (changelog)'}, ` +
        `${stats.late} late${stats.lateAccepted > 0 ? ` (beyond the allowed lateness; ${stats.lateAccepted} more within it, evaluated on arrival)` : ''}, ${stats.deadLetters} rejected to the dead-letter output${stats.quarantined ? ` (${stats.quarantined} quarantined: event time beyond max_future_skew or past_horizon)` : ''}` +
        // The store keeps where the stream quarantined events for their future time or refused them for a
        // field (reconcile's evidence), not the events.
        `${dlq ? '' : ` (counted only${sink && stats.deadLetters > 0 ? `; the store keeps the positions of those ${storeKeeps(stats)}, for reconcile` : ''}: pass --dead-letter FILE to keep them)`}` +
        // Lines that were neither events nor dead letters: blank ones (skipped by both runtimes, as `produce` says too).
        `${stats.lines > stats.events + stats.deadLetters ? `; ${stats.lines - stats.events - stats.deadLetters} blank lines skipped` : ''}\n` +
        // Why lines were rejected, without opening the dead letters (all of them rejected printed no reason).
        hoppingSkipsLine(def, stats.lateWindowSkips) +
        (stats.firstRejection === null ? '' : `  first rejected: ${stats.firstRejection}\n`) +
        (stats.deadLetters > 1 ? `  rejected by reason: ${reasonsText(stats.rejectionReasons, stats.deadLetters)}\n` : ''),
    );
    const none = keptNoneNote(def, stats, written);
    if (none !== null) process.stderr.write(`${none}\n`);
    const refused = mostRefusedWarning({ unit: 'lines', read: stats.lines, deadLetters: stats.deadLetters, reasons: stats.rejectionReasons, schema: def.schema.name, pipelines: [def.name] });
    if (refused !== null) process.stderr.write(`${refused}\n`);
    const conflicting = sink?.written.conflicting ?? 0;
    if (conflicting > 0 && otherDays.size > 0) {
      const days = [...otherDays.keys()];
      const versions = [...new Set([...otherDays.values()].flat())];
      process.stderr.write(
        `!! ${conflicting} results contradict rows of the same windows that definition version ${versions.join(', ')} of ${def.name} stored ` +
          `for ${daysSpan(days)} (this run's is ${definitionVersion(def)}: the definition changed): ` +
          'the store kept its rows and marked those cells dirty. Recompute those days under the changed definition with ' +
          `\`concord backfill --from ${days[0]} --to ${days.at(-1)} --pipeline ${shellWord(def.name)} --archive DIR\` ` +
          '(`backfill --date` refuses a day computed by another definition), or stream into a fresh store\n',
      );
    } else if (conflicting > 0) {
      process.stderr.write(
        `!! ${conflicting} results contradict rows another run stored for the same windows (another input of the same time span?): ` +
          'the store kept its rows and marked those cells dirty (`concord report` counts them). Archive every input of the day ' +
          `(\`concord archive\`) and run ${backfillEach(contradictedDays, def.name)} to recompute them from all events\n`,
      );
    }
    if (mixed.size > 0) process.stderr.write(`${mixedDaysMessage(def.name, definitionVersion(def), mixed, 'this run', 'or stream into a fresh store')}\n`);
    return 0;
  },
};

/** `source` telling `reach`, as each batch is handed on, its source and the offset after its last line (the batch is processed before the next is asked for). */
async function* reachOf(source: LineSource, reach: { source: string; next: number }): LineSource {
  for await (const batch of source) {
    if (batch.lines.length > 0) Object.assign(reach, { source: batch.source, next: offsetOf(batch, batch.lines.length - 1) + 1 });
    yield batch;
  }
}

/** The skipped window assignments of a hopping pipeline, a line under the summary ('' for other pipelines or none). */
function hoppingSkipsLine(def: PipelineDefinition, skips: number): string {
  const line = isHopping(def) ? lateWindowSkipsLine(skips) : null;
  return line === null ? '' : `${line}\n`;
}

/** `concord backfill --date D` for each day named (D when none is known), a day per command. */
function backfillEach(days: readonly string[], pipeline: string): string {
  if (days.length === 0) return '`concord backfill --date D --archive DIR`';
  return days.map((d) => `\`concord backfill --date ${d} --pipeline ${shellWord(pipeline)} --archive DIR\``).join(', ');
}

/** Which of the stream's dead letters the store keeps, as the summary says it (store-sink.ts `deadLetter`). */
function storeKeeps(stats: { deadLetters: number; quarantined: number }): string {
  const refused = stats.deadLetters > stats.quarantined ? 'refused for a field' : '';
  return [stats.quarantined > 0 ? 'quarantined for their time' : '', refused].filter((s) => s !== '').join(' or ');
}

/**
 * A windowed pipeline that wrote nothing from events none of which was late: its `where` kept none
 * (the first event it keeps can't be late, so it opens a window). "0 results written" alone left a
 * value the events never hold ("2.0.1" for "v2.0.1", a site's name for its id) to be found by hand.
 */
function keptNoneNote(def: PipelineDefinition, stats: { events: number; late: number }, written: number): string | null {
  if (def.kind !== 'windowed' || def.where.length === 0 || written > 0 || stats.events === 0 || stats.late > 0) return null;
  const where = def.where.map((c) => {
    const shown = presentCondition(def.schema, c);
    return 'value' in shown ? [shown.field, shown.op, shown.value] : [shown.field, shown.op];
  });
  return `  its "where" kept none of the ${stats.events} events: ${JSON.stringify(where)}; check its values against the events' (every condition must hold)`;
}
