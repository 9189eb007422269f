import { ConfigError } from '../../pipeline/errors.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { shellWord } from '../../pipeline/names.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { CorruptArchiveDayError } from '../../batch/archive-check.ts';
import { backfillDay, dayRange, DefinitionChangedError, NoArchivedDayError, recomputeDay } from '../../reconcile/reconcile-day.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { openStore } from '../../store/open-store.ts';
import type { CommandSpec } from '../args.ts';
import { READ_ARCHIVE } from '../paths.ts';
import { daySpanFlags } from '../day-span-flags.ts';
import { loadSettings } from '../config.ts';
import { loadRegistry, pipelinesFor, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';

export const backfillCommand: CommandSpec = {
  name: 'backfill',
  paths: { archive: READ_ARCHIVE },
  summary: 'recompute the dirty cells of a day, or whole days after a definition changed, from the archive',
  usage: 'concord backfill (--date YYYY-MM-DD | --from D1 --to D2) --archive DIR [--pipeline NAME|all] [--job-id ID] [--store URL]',
  options: [
    '--date D                   the UTC day whose dirty cells are recomputed: cells late stream rows or late',
    '                           events changed after the day was reconciled, and cells of archive files',
    '                           written after its last reconcile or backfill (found here, marked dirty)',
    '--from D1 --to D2          or: recompute every day D1..D2 whole under the definitions given (after a',
    '                           definition changed: rows carry its new version), each published atomically',
    '--archive DIR              the Parquet archive',
    '--pipeline NAME|all        default all',
    '--job-id ID                idempotence key (default backfill:<pipeline>:<date>)',
    ...storeOptions,
    ...timingOptions,
  ],
  flags: {
    date: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, archive: { type: 'string' }, pipeline: { type: 'string' },
    'job-id': { type: 'string' }, ...storeFlags, ...timingFlags,
  },
  required: ['archive'],
  async run(v) {
    const registry = await loadRegistry(v);
    if (v.from !== undefined || v.to !== undefined) {
      const dates = daySpanFlags(v.from, v.to, v.date);
      const store = await openStore(storeUrl(v), { registry });
      let refused = 0;
      try {
        for (const def of pipelinesFor(registry, v.pipeline, loadSettings(v))) refused += await recomputeDays(store, def, dates, String(v.archive));
      } finally {
        await store.close();
      }
      return refused > 0 ? 2 : 0;
    }
    if (v.date === undefined) throw new ConfigError(`--date D (dirty cells) or --from D1 --to D2 (whole days) is required\nUsage: ${backfillCommand.usage}`);
    const date = String(v.date);
    dayRange(date);
    const store = await openStore(storeUrl(v), { registry });
    let refused = 0;
    try {
      for (const def of pipelinesFor(registry, v.pipeline, loadSettings(v))) {
        const s = await backfillDay({
          def, date, store, archiveDir: String(v.archive), jobId: String(v['job-id'] ?? `backfill:${def.name}:${date}`), ownVersion: definitionVersion(registry.pipeline(def.name)),
          progress: ({ done, total, what }) => { process.stderr.write(`backfill ${def.name} ${date} [${done}/${total}] ${what}\n`); },
        }).catch((error: unknown) => {
          if (!(error instanceof DefinitionChangedError || error instanceof NoArchivedDayError)) throw error;
          // The others are backfilled; exit 2 at the end.
          process.stderr.write(error instanceof NoArchivedDayError ? `${def.name} ${date}: not backfilled: ${error.message} (its dirty cells are kept)\n` : `${error.message}\n`);
          refused++;
          return undefined;
        });
        if (s === undefined) continue;
        if (s.skipped !== undefined) {
          process.stdout.write(`${def.name} ${date}: ${s.dirty} dirty cells, skipped: ${s.skipped}\n`);
          continue;
        }
        const archived = s.fromArchive > 0 ? ` (${s.fromArchive} cells touched by archive files written after the day's reconcile)` : '';
        process.stdout.write(`${def.name} ${date}: ${s.dirty} dirty cells, ${s.recomputed} recomputed, ${s.changed} changed${archived}\n`);
        // A pipeline added to the definitions later: --date found nothing of it to recompute and said only
        // "0 dirty cells" (the day stayed without results of it, in the report and the dashboard).
        if (s.dirty === 0 && await store.holdsNothing(def.name, date)) {
          process.stderr.write(`${def.name} ${date}: the store holds nothing of this pipeline's day (no stream rows, no version): --date recomputes dirty cells only; ` +
            `to compute the whole day from the archive, run \`concord backfill --from ${date} --to ${date} --pipeline ${shellWord(def.name)} --archive ${shellWord(String(v.archive))}\`\n`);
        }
      }
    } finally {
      await store.close();
    }
    return refused > 0 ? 2 : 0;
  },
};

/**
 * Whole days under a (changed) definition, one atomic publish each; the job id carries its version. A day
 * the archive cannot replay whole is refused and said (the others go on); returns how many were refused.
 */
async function recomputeDays(store: SqlResultStore, def: PipelineDefinition, dates: readonly string[], archiveDir: string): Promise<number> {
  const version = definitionVersion(def);
  let refused = 0;
  for (const [i, date] of dates.entries()) {
    const stored = (await store.realtimeResults(def.name, date)).length > 0 || (await store.status(def.name, date)).generations.length > 0;
    const s = await recomputeDay({
      def, date, store, archiveDir, jobId: `recompute:${def.name}:${date}:${version}`, hasStoredRows: stored,
      progress: ({ what }) => { process.stderr.write(`backfill ${def.name} [${i + 1}/${dates.length}] ${date}: ${what}\n`); },
    }).catch((error: unknown) => {
      if (!(error instanceof NoArchivedDayError || error instanceof CorruptArchiveDayError)) throw error;
      process.stderr.write(`${error instanceof NoArchivedDayError ? `${def.name} ${date}: not recomputed: ${error.message} (its stored rows stay live)` : error.message}\n`);
      refused++;
      return undefined;
    });
    if (s === undefined) continue;
    process.stdout.write(s.generation === null
      ? `${def.name} ${date}: no archived events and no stored rows, skipped\n`
      : s.generation === s.previous
        // The same definition's recompute ran before (its job id is the version's): nothing switched.
        ? `${def.name} ${date}: ${s.cells} cells under definition ${version}, version ${s.generation} already live (recomputed under this definition before), nothing changed\n`
        : `${def.name} ${date}: ${s.cells} cells under definition ${version}, version ${s.generation} live (was ${s.previous}), ${s.corrections} cells changed\n`);
  }
  return refused;
}

export const revertCommand: CommandSpec = {
  name: 'revert',
  summary: 'make the version of a day that was live before the last switch live again (atomic)',
  usage: 'concord revert --date YYYY-MM-DD --pipeline NAME|all [--store URL]',
  options: ['--date D                   the UTC day', '--pipeline NAME|all', ...storeOptions],
  flags: { date: { type: 'string' }, pipeline: { type: 'string' }, ...storeFlags },
  required: ['date', 'pipeline'],
  async run(v) {
    const date = String(v.date);
    dayRange(date);
    const registry = await loadRegistry(v);
    const store = await openStore(storeUrl(v), { registry });
    try {
      for (const def of pipelinesFor(registry, v.pipeline, {})) {
        const status = await store.status(def.name, date);
        if (status.generations.length === 0) {
          if (v.pipeline !== 'all') throw new ConfigError(`${def.name} ${date} was never reconciled: nothing to revert`);
          process.stdout.write(`${def.name} ${date}: never reconciled, nothing to revert\n`);
          continue;
        }
        const r = await store.revert(def.name, date);
        process.stdout.write(`${def.name} ${date}: version ${r.to} live again (was ${r.from}), ${r.corrections} cells changed\n`);
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};
