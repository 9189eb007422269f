import { CorruptArchiveDayError } from '../../batch/archive-check.ts';
import { dayFinalAt, describeStreamBehind, streamBehind } from '../../store/day-status.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { checkRealtimeVersion, readLateLog, readResultsFile, readStreamQuarantine } from '../../reconcile/realtime-input.ts';
import { formatSummary } from '../../reconcile/summary.ts';
import { writeTextFile } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';
import { READ_ARCHIVE } from '../paths.ts';
import { loadSettings } from '../config.ts';
import { loadRegistry, onePipeline, pipelinesFor, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { parseInstantFlag } from '../instant-flag.ts';
import { DayRecomputedError, DefinitionChangedError, NoArchivedDayError, NoRealtimeRowsError, reconcileDay, UnexplainedDifferencesError } from '../../reconcile/reconcile-day.ts';
import { reconciliationMarkdown, type DayReconciliation } from '../../reconcile/day-report.ts';
import { openStore } from '../../store/open-store.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';

export const reconcileCommand: CommandSpec = {
  name: 'reconcile',
  // --dead-letter is what `concord stream --dead-letter` wrote: read here, not written.
  paths: { archive: READ_ARCHIVE, 'dead-letter': { kind: 'read-file', what: 'a JSON-lines file' } },
  summary: 'diff realtime results against a replay of the archive and attribute every difference',
  usage: 'concord reconcile --pipeline NAME --realtime STREAM_OUT.jsonl --archive ARCHIVE_DIR --output REPORT.json [--late LATE.jsonl] [--dead-letter DLQ.jsonl] [--fail-on-unexplained] [--max-out-of-orderness 30s] [--allowed-lateness 5m]\n' +
    '   or: concord reconcile --date YYYY-MM-DD --archive ARCHIVE_DIR [--pipeline NAME|all] [--store URL] [--report-dir DIR] [--read-at ISO] [--job-id ID] [--force]',
  options: [
    'Files (one pipeline, realtime results from a file):',
    '--pipeline NAME            a pipeline of the definitions file (`concord validate` lists them)',
    '--realtime FILE            output of `concord stream` (changelog or --final)',
    '--archive DIR              archive root written by `concord archive`',
    '--output FILE              JSON report: counts, causes, every difference with its late events',
    ...timingOptions,
    '                           (use the B and L the realtime run used)',
    '--late FILE                late events the realtime workers recorded (`concord results --late-output`):',
    '                           attribute with them instead of simulating lateness from arrival order (a',
    '                           file run by `concord stream` needs none: its arrival order is the file\'s)',
    '--dead-letter FILE         the dead letters the stream wrote (`concord stream --dead-letter`): events it',
    '                           quarantined for their time that the archive counted (archived later, or under',
    '                           another max_future_skew or past_horizon) are then named future_timestamp',
    '--fail-on-unexplained      exit with status 3 when any difference is unexplained',
    'A day in the store (what the nightly job runs): replays the day, diffs it against the stream\'s stored',
    'rows, attributes every difference, and publishes the corrected day as a new version in one atomic',
    'switch; unexplained differences publish nothing and exit with status 3:',
    '--date D                   the UTC day to reconcile',
    '--report-dir DIR           JSON + Markdown reports go to DIR/<date>/<pipeline>.json|.md (default .concord/reports)',
    '--read-at ISO              also attribute what the dashboard showed at that instant (update_after_read): Z or an offset, or epoch ms',
    '--job-id ID                idempotence key of this run (default reconcile:<pipeline>:<date>): run again',
    '                           with the same replay it changes nothing; with a replay that differs (archive',
    '                           files added since) it publishes a new version',
    '--force                    publish the replayed day even when some differences are unexplained (they stay',
    '                           in the stored report); without it such a day publishes nothing and exits 3.',
    '                           Also: publish without the day\'s archive files moved to _corrupt/ (else skipped, exit 2)',
    '--pipeline NAME|all        default all; a pipeline the stream wrote no rows for on D, or whose events of D',
    '                           the archive does not hold, is reported and skipped (exit 2 once the others are done)',
    ...storeOptions,
  ],
  flags: {
    pipeline: { type: 'string' }, realtime: { type: 'string' }, archive: { type: 'string' }, output: { type: 'string' },
    'fail-on-unexplained': { type: 'boolean' }, late: { type: 'string' }, 'dead-letter': { type: 'string' }, ...timingFlags,
    date: { type: 'string' }, 'report-dir': { type: 'string' }, 'read-at': { type: 'string' }, 'job-id': { type: 'string' },
    force: { type: 'boolean' }, ...storeFlags,
  },
  async run(v) {
    checkMode(v);
    if (v.date !== undefined) return reconcileStoredDay(v);
    for (const r of ['pipeline', 'realtime', 'archive', 'output']) {
      if (v[r] === undefined) throw new ConfigError(`--${r} is required (or --date D to reconcile a day in the store)\nUsage: ${reconcileCommand.usage}`);
    }
    const def = withTiming(onePipeline(await loadRegistry(v), v.pipeline, '`reconcile --date D` reconciles every pipeline of a day in the store'), loadSettings(v));
    const realtime = await readResultsFile(def, String(v.realtime));
    checkRealtimeVersion(def, realtime, String(v.realtime));
    const lateLog = v.late === undefined ? undefined : await readLateLog(def, String(v.late));
    const quarantined = v['dead-letter'] === undefined ? undefined : await readStreamQuarantine(def, String(v['dead-letter']));
    const report = await reconcile({
      def, realtime, archiveDir: String(v.archive), ...(lateLog ? { lateLog } : {}), ...(quarantined ? { quarantined } : {}),
      progress: (stage) => { process.stderr.write(`reconcile ${def.name}: ${stage}\n`); },
    });
    await writeTextFile(String(v.output), JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(formatSummary([report]) + '\n');
    if (report.unexplained > 0) {
      process.stderr.write(`!! ${report.unexplained} differences are UNEXPLAINED: see "differences" with cause "unexplained" in ${String(v.output)}\n`);
      if (v['fail-on-unexplained']) return 3;
    }
    return 0;
  },
};

/** The flags of one way of reconciling only: given with the other, one was silently ignored. */
const FILE_ONLY = ['realtime', 'output', 'late', 'dead-letter', 'fail-on-unexplained'];
const DAY_ONLY = ['report-dir', 'read-at', 'job-id', 'store'];

function checkMode(v: Record<string, string | boolean | undefined>): void {
  if (v.date === undefined && v.force !== undefined) throw new ConfigError('--force applies to a day in the store: use it with --date D (with files, nothing is published)');
  const [wrong, mode] = v.date === undefined ? [DAY_ONLY, 'a day in the store (--date D)'] : [FILE_ONLY, 'files (without --date)'];
  const given = wrong.filter((f) => v[f] !== undefined);
  if (given.length > 0) throw new ConfigError(`--${given.join(', --')}: ${given.length === 1 ? 'an option' : 'options'} of reconciling ${mode} only\nUsage: ${reconcileCommand.usage}`);
}

async function reconcileStoredDay(v: Record<string, string | boolean | undefined>): Promise<number> {
  if (v.archive === undefined) throw new ConfigError('--archive is required: the Parquet archive the day is replayed from');
  const date = String(v.date);
  const readAt = v['read-at'] === undefined ? undefined : parseInstantFlag('read-at', String(v['read-at']));
  const registry = await loadRegistry(v);
  const store = await openStore(storeUrl(v), { registry });
  const done: DayReconciliation[] = [];
  const empty: string[] = [];
  let failed = 0;
  try {
    for (const def of pipelinesFor(registry, v.pipeline, loadSettings(v))) {
      // A live stream's day is final once its last window ended plus B and L (the nightly run waits for it).
      const finalAt = dayFinalAt(def, date);
      if (Date.now() < finalAt) {
        process.stderr.write(`reconcile ${def.name} ${date}: note: its results are final at ${new Date(finalAt).toISOString()} (the day's last window ends ` +
          `then, plus B and L): a stream still running has windows of it open, compared now against a partial archive (they show as differences; run it again after)\n`);
      }
      // Said of the version a reconcile publishes: after it, since a day refused (no stream rows yet) publishes none.
      const behind = Date.now() < finalAt ? undefined : await streamBehind(store, def, date);
      try {
        done.push(await reconcileDay({
          def, date, store, archiveDir: String(v.archive), jobId: String(v['job-id'] ?? `reconcile:${def.name}:${date}`), ownVersion: definitionVersion(registry.pipeline(def.name)),
          reportDir: String(v['report-dir'] ?? '.concord/reports'), storeName: storeIdentity(storeUrl(v)), ...(readAt === undefined ? {} : { readAt }), force: v.force === true,
          progress: ({ done: d, total, what }) => { process.stderr.write(`reconcile ${def.name} ${date} [${d}/${total}] ${what}\n`); },
        }));
        if (behind) process.stderr.write(`reconcile ${def.name} ${date}: note: ${describeStreamBehind(behind)}\n`);
      } catch (error) {
        if (error instanceof DayRecomputedError) {
          process.stderr.write(`${error.message}\n`);
          continue;
        }
        if (error instanceof NoRealtimeRowsError || error instanceof NoArchivedDayError || error instanceof DefinitionChangedError || error instanceof CorruptArchiveDayError) {
          empty.push(def.name);
          process.stderr.write(`${error instanceof NoArchivedDayError ? `${def.name}: ` : ''}${error.message}\n`);
          continue;
        }
        if (!(error instanceof UnexplainedDifferencesError)) throw error;
        failed++;
        done.push(error.reconciliation);
        process.stderr.write(`!! ${error.message}\n`);
      }
    }
  } finally {
    await store.close();
  }
  if (done.length > 0) process.stdout.write(reconciliationMarkdown(done) + '\n');
  for (const d of done) {
    if (d.status === 'failed_unexplained') continue;
    const forced = d.report.unexplained > 0 ? ` despite ${d.report.unexplained} unexplained differences (--force)` : '';
    if (d.status === 'unchanged') {
      process.stderr.write(`${d.pipeline} ${date}: version ${d.generation}, live, already holds this replay: nothing changed\n`);
    } else process.stderr.write(`${d.pipeline} ${date}: version ${d.generation} live (was ${d.previous_generation}), ${d.corrections} cells corrected${forced}\n`);
  }
  if (failed > 0) return 3;
  // A user error (exit 2), said once per pipeline above; the others were reconciled.
  return empty.length > 0 ? 2 : 0;
}
