import { ConfigError } from '../../pipeline/errors.ts';
import { backfillDay, dayRange } from '../../reconcile/reconcile-day.ts';
import { openStore } from '../../store/open-store.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { loadRegistry, pipelinesFor, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';

export const backfillCommand: CommandSpec = {
  name: 'backfill',
  summary: 'recompute only the dirty cells of reconciled (or sealed) days from the archive',
  usage: 'concord backfill --date YYYY-MM-DD --archive DIR [--pipeline NAME|all] [--job-id ID] [--store URL]',
  options: [
    '--date D                   the UTC day whose dirty cells (late data after reconciliation) are recomputed',
    '--archive DIR              the Parquet archive',
    '--pipeline NAME|all        default all',
    '--job-id ID                idempotence key (default backfill:<pipeline>:<date>)',
    ...storeOptions,
    ...timingOptions,
  ],
  flags: { date: { type: 'string' }, archive: { type: 'string' }, pipeline: { type: 'string' }, 'job-id': { type: 'string' }, ...storeFlags, ...timingFlags },
  required: ['date', 'archive'],
  async run(v) {
    const date = String(v.date);
    dayRange(date);
    const registry = await loadRegistry(v);
    const store = await openStore(storeUrl(v), { registry });
    try {
      for (const def of pipelinesFor(registry, v.pipeline, loadSettings(v))) {
        const s = await backfillDay({
          def, date, store, archiveDir: String(v.archive), jobId: String(v['job-id'] ?? `backfill:${def.name}:${date}`),
          progress: ({ done, total, what }) => { process.stderr.write(`backfill ${def.name} ${date} [${done}/${total}] ${what}\n`); },
        });
        process.stdout.write(`${def.name} ${date}: ${s.dirty} dirty cells, ${s.recomputed} recomputed, ${s.changed} changed\n`);
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};

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
