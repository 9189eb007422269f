import { writeFile } from 'node:fs/promises';
import { ConfigError } from '../../pipeline/errors.ts';
import { differencesMarkdown, reconciliationMarkdown } from '../../reconcile/day-report.ts';
import { dayRange } from '../../reconcile/reconcile-day.ts';
import { openStoreReader } from '../../store/open-store.ts';
import type { StoredRow } from '../../store/rows.ts';
import type { DayStatus } from '../../store/store-reads.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { loadRegistry, pipelinesFor, storeFlags, storeOptions, storeUrl } from './shared.ts';

export interface DayReport {
  date: string;
  pipelines: {
    pipeline: string;
    status: DayStatus;
    reconciliation: unknown;
    rows: { window_start: string; window_end: string | null; key: Record<string, unknown>; values: Record<string, unknown>; revision: number; provenance: string; generation: number }[];
  }[];
}

function rowJson(r: StoredRow): DayReport['pipelines'][number]['rows'][number] {
  return {
    window_start: new Date(r.windowStart).toISOString(), window_end: r.windowEnd === null ? null : new Date(r.windowEnd).toISOString(),
    key: r.key, values: r.values, revision: r.revision, provenance: r.provenance, generation: r.generation,
  };
}

const csvCell = (v: unknown) => {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export const reportCommand: CommandSpec = {
  name: 'report',
  summary: 'the next-day report of a date, read from the single-source-of-truth store only',
  usage: 'concord report --date YYYY-MM-DD [--pipeline NAME|all] [--format md|csv|json] [--cells] [--output FILE] [--store URL]',
  options: [
    '--date D                   the UTC day',
    '--pipeline NAME|all        default all',
    '--format md|csv|json       default md: a summary per pipeline (day status, the reconciliation: cells,',
    '                           equal, different, causes, mismatch rate, SMAPE, the top differences);',
    '                           csv and json: every cell',
    '--cells                    md: every cell too (a large day is megabytes)',
    '--output FILE              default stdout',
    ...storeOptions,
  ],
  flags: { date: { type: 'string' }, pipeline: { type: 'string' }, format: { type: 'string' }, output: { type: 'string' }, cells: { type: 'boolean' }, ...storeFlags },
  required: ['date'],
  async run(v) {
    const date = String(v.date);
    dayRange(date);
    const format = String(v.format ?? 'md');
    if (!['md', 'csv', 'json'].includes(format)) throw new ConfigError(`--format ${format}: use md, csv or json`);
    const registry = await loadRegistry(v);
    // A reader: never waits for writers (no writers' lock), one consistent snapshot of the day.
    const reader = await openStoreReader(storeUrl(v), { registry });
    let report: DayReport;
    let empty = false;
    try {
      report = await reader.read(async ({ store, empty: nothing }) => {
        empty = nothing;
        const out: DayReport = { date, pipelines: [] };
        for (const def of pipelinesFor(registry, v.pipeline, loadSettings({}))) {
          const [rows, status, recs] = await Promise.all([store.current(def.name, date), store.status(def.name, date), store.reconciliations(def.name, date)]);
          out.pipelines.push({ pipeline: def.name, status, reconciliation: recs.at(-1) ?? null, rows: rows.map(rowJson) });
        }
        return out;
      });
    } finally {
      await reader.close();
    }
    const text = format === 'json' ? JSON.stringify(report, null, 2) + '\n' : format === 'csv' ? toCsv(report) : toMarkdown(report, v.cells === true);
    if (v.output) await writeFile(String(v.output), text);
    else process.stdout.write(text);
    // Empty, not an error (a store before its first write reads so), but most often a mistyped --store.
    if (empty) process.stderr.write(`note: nothing was ever written to the store ${reader.location} (it holds no Concord tables): check --store or CONCORD_STORE\n`);
    return 0;
  },
};

function toCsv(r: DayReport): string {
  const lines = ['pipeline,window_start,window_end,key,values,revision,provenance,generation'];
  for (const p of r.pipelines) {
    for (const x of p.rows) lines.push([p.pipeline, x.window_start, x.window_end ?? '', x.key, x.values, x.revision, x.provenance, x.generation].map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}

function toMarkdown(r: DayReport, cells: boolean): string {
  const out = [`# Concord report — ${r.date}`, ''];
  const recs = r.pipelines.flatMap((p) => (p.reconciliation ? [p.reconciliation as Parameters<typeof reconciliationMarkdown>[0][number]] : []));
  if (recs.length > 0) out.push('## Reconciliation', '', reconciliationMarkdown(recs), '');
  for (const p of r.pipelines) {
    const s = p.status;
    out.push(`## ${p.pipeline}`, '', `Day ${s.status} (watermark ${s.watermark === null ? 'unknown' : new Date(s.watermark).toISOString()}); live version ${s.liveGeneration}` +
      `${s.liveGeneration === 0 ? ' (realtime, not reconciled yet)' : ''}; ${s.dirty} dirty cells, late-delta ${s.lateDelta}.`, '');
    const rec = p.reconciliation as Parameters<typeof differencesMarkdown>[0] | null;
    if (rec) out.push('Top differences:', '', differencesMarkdown(rec, 10), '');
    if (!cells) {
      out.push(`${p.rows.length} cells live (every cell: --cells, or --format csv|json).`, '');
      continue;
    }
    out.push('| window start | key | values | revision | provenance |', '|---|---|---|---:|---|');
    for (const x of p.rows) out.push(`| ${x.window_start} | ${Object.values(x.key).join(' ')} | ${Object.entries(x.values).map(([k, val]) => `${k} ${Array.isArray(val) ? val.join(' ') : String(val)}`).join(', ')} | ${x.revision} | ${x.provenance} |`);
    out.push('');
  }
  return out.join('\n');
}
