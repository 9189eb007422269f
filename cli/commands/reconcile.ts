import { writeFile } from 'node:fs/promises';
import { pipelineByName } from '../../pipeline/builtins.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { readLateLog, readResultsFile } from '../../reconcile/realtime-input.ts';
import { formatSummary } from '../../reconcile/summary.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { timingFlags, timingOptions } from './shared.ts';

export const reconcileCommand: CommandSpec = {
  name: 'reconcile',
  summary: 'diff realtime results against a replay of the archive and attribute every difference',
  usage: 'concord reconcile --pipeline NAME --realtime STREAM_OUT.jsonl --archive ARCHIVE_DIR --output REPORT.json [--max-out-of-orderness 30s] [--allowed-lateness 5m]',
  options: [
    '--pipeline NAME            page_views_per_minute | unique_visitors_5m | fraud_multi_country',
    '--realtime FILE            output of `concord stream` (changelog or --final)',
    '--archive DIR              archive root written by `concord archive`',
    '--output FILE              JSON report: counts, causes, every difference with its late events',
    ...timingOptions,
    '                           (use the B and L the realtime run used)',
    '--late FILE                late events the realtime workers recorded (`concord results --late-output`):',
    '                           attribute with them instead of simulating lateness from arrival order',
    '--fail-on-unexplained      exit with status 3 when any difference is unexplained',
  ],
  flags: {
    pipeline: { type: 'string' }, realtime: { type: 'string' }, archive: { type: 'string' }, output: { type: 'string' },
    'fail-on-unexplained': { type: 'boolean' }, late: { type: 'string' }, ...timingFlags,
  },
  required: ['pipeline', 'realtime', 'archive', 'output'],
  async run(v) {
    const def = withTiming(pipelineByName(String(v.pipeline)), loadSettings(v));
    const realtime = await readResultsFile(def, String(v.realtime));
    const lateLog = v.late === undefined ? undefined : await readLateLog(def, String(v.late));
    const report = await reconcile({ def, realtime, archiveDir: String(v.archive), ...(lateLog ? { lateLog } : {}) });
    await writeFile(String(v.output), JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(formatSummary([report]) + '\n');
    if (report.unexplained > 0) {
      process.stderr.write(`!! ${report.unexplained} differences are UNEXPLAINED: see "differences" with cause "unexplained" in ${String(v.output)}\n`);
      if (v['fail-on-unexplained']) return 3;
    }
    return 0;
  },
};
