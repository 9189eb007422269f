import { statSync } from 'node:fs';
import { ConfigError } from '../../pipeline/errors.ts';
import { DEFAULT_STORE, openStore } from '../../store/open-store.ts';
import { describeSummary, pruneStore, retentionSet, summarize } from '../../store/store-retention.ts';
import { describeVerdicts } from '../../store/verdict-retention.ts';
import type { CommandSpec } from '../args.ts';
import { Progress } from '../progress.ts';
import { loadRetention, retentionFlags, retentionOptions } from '../retention-config.ts';
import { loadRegistry, storeFlags, storeOptions, storeUrl } from './shared.ts';

export const pruneCommand: CommandSpec = {
  name: 'prune',
  summary: 'delete what the store\'s retention no longer keeps: old sealed days, superseded versions, the stream\'s verdicts on events of those days (--dry-run says what)',
  usage: 'concord prune [--keep-days N] [--keep-versions N] [--pipeline NAME|all] [--dry-run] [--store URL]',
  options: [
    ...retentionOptions,
    '--pipeline NAME|all        only this pipeline (default: every pipeline the store holds a watermark of)',
    '--dry-run                  say what would go (days, versions and rows per table, per pipeline; the stream\'s verdicts on',
    '                           events, per input schema); delete nothing',
    ...storeOptions,
    '                           Each day goes in one transaction: a reader (serve, report) sees it whole or not at all.',
    '                           Never a day that is not sealed, never a day\'s live version. See docs/operations.md, "Retention".',
  ],
  flags: { ...retentionFlags, pipeline: { type: 'string' }, 'dry-run': { type: 'boolean' }, ...storeFlags },
  async run(v) {
    const policy = loadRetention(v);
    if (!retentionSet(policy)) {
      throw new ConfigError('no retention is set, so nothing would go: give --keep-days N and/or --keep-versions N (or env CONCORD_RETENTION_DAYS / CONCORD_RETENTION_VERSIONS, or retentionDays / retentionVersions in --config)');
    }
    const registry = await loadRegistry(v);
    const pipelines = v.pipeline === undefined || v.pipeline === 'all' ? undefined : [registry.pipeline(String(v.pipeline)).name];
    const store = await openStore(storeUrl(v), { registry });
    const said = `keep days ${policy.keepDays ?? 'all'}, superseded versions ${policy.keepVersions ?? 'all'}`;
    try {
      if (v['dry-run']) {
        const lines = [...describeSummary(summarize(await store.prunePlan(policy, pipelines))), ...describeVerdicts(await store.verdictPlan(policy, pipelines))];
        process.stdout.write(lines.length === 0 ? `nothing to prune (${said})\n` : `would delete (${said}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
        return 0;
      }
      const file = store.backend === 'duckdb' ? duckDbFile(storeUrl(v)) : undefined;
      const sizeBefore = file ? sizeOf(file) : undefined;
      let progress: Progress | undefined;
      const done = await pruneStore(store, policy, {
        ...(pipelines ? { pipelines } : {}),
        onDay: (n, total, d) => {
          progress ??= new Progress('prune', { total, unit: 'days' });
          progress.update(n, d ? `${d.pipeline} ${d.day}` : '');
          if (n === total) progress.done(n);
        },
      });
      const lines = [...describeSummary(summarize(done.days)), ...describeVerdicts(done.verdicts)];
      process.stdout.write(lines.length === 0 ? `nothing to prune (${said})\n` : `deleted (${said}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
      if (file && sizeBefore !== undefined && (done.days.length > 0 || done.verdicts.length > 0)) {
        process.stdout.write(`DuckDB file ${file}: ${mb(sizeBefore)} before, ${mb(sizeOf(file))} after the checkpoint (freed blocks are reused, the file rarely shrinks)\n`);
      }
      if (store.backend === 'postgres' && (done.days.length > 0 || done.verdicts.length > 0)) process.stdout.write('PostgreSQL: the space is reused by new rows after (auto)vacuum; VACUUM FULL gives it back to the OS (docs/operations.md)\n');
      return 0;
    } finally {
      await store.close();
    }
  },
};

/** The DuckDB store's file (--store, else CONCORD_STORE, else the default), for its size. */
function duckDbFile(url: string | undefined): string | undefined {
  const u = url ?? process.env.CONCORD_STORE ?? DEFAULT_STORE;
  const path = u.startsWith('duckdb:') ? u.slice('duckdb:'.length) : '';
  return path === '' || path === ':memory:' ? undefined : path;
}

const sizeOf = (path: string) => { try { return statSync(path).size; } catch { return 0; } };
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
