import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { isoMillis } from '../../pipeline/time.ts';
import { definitionVersion, type PipelineDefinition } from '../../pipeline/definition.ts';
import { envNumber } from '../../pipeline/env-number.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import type { Registry } from '../../pipeline/registry.ts';
import type { HeadlineInput } from '../../reconcile/day-headline.ts';
import { currentReconciliation, type DayReconciliation } from '../../reconcile/day-report.ts';
import { dayRange } from '../../reconcile/reconcile-day.ts';
import { NoStoreError, openStoreReader } from '../../store/open-store.ts';
import type { StoredRow } from '../../store/rows.ts';
import type { StoreReader } from '../../store/store-reader.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { previousVersionOf, type DayStatus } from '../../store/store-reads.ts';
import { streamPassed, streamReached } from '../../store/day-status.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { markdownPieces } from './report-markdown.ts';
import { loadRegistry, pipelinesFor, storeFlags, storeOptions, storeUrl } from './shared.ts';

/** A cell as the report writes it. */
export type ReportRow = { window_start: string; window_end: string | null; key: Record<string, unknown>; values: Record<string, unknown>; revision: number; provenance: string; generation: number; definition_version: string };

/** A day's rows, read a page at a time while the text goes out (csv, json, md --cells). */
export type ReportRows = Iterable<ReportRow> | AsyncIterable<ReportRow>;

/** Rows per page read from the store for csv, json and md --cells where it pages (PostgreSQL; env CONCORD_REPORT_PAGE_ROWS). */
const PAGE_ROWS = () => envNumber('CONCORD_REPORT_PAGE_ROWS', 10_000, { integer: true, min: 1 });

export interface DayReport<Rows extends ReportRows = ReportRow[]> {
  date: string;
  pipelines: {
    pipeline: string;
    status: DayStatus;
    /** Nothing of the day: no row, no reconciliation, no late event or dirty cell (as `/api/days/D` says it). */
    empty: boolean;
    /** The newest reconciliation of the day, as stored. */
    reconciliation: DayReconciliation | null;
    /**
     * Where the stream is against this day (the store's watermark of the pipeline is its newest, of
     * whatever day the stream is at): it reached the day's start (as the API's `stream_reached`), it
     * passed the end of the day's last window. Absent in reports built without a store (tests).
     */
    stream_reached?: boolean;
    stream_passed?: boolean;
    /** The definition versions of the live rows, with how many rows each (two: the day mixes definitions). */
    definition_versions: Record<string, number>;
    /** The version the definitions given compute. */
    definition_version: string;
    /** What the Markdown summary's first paragraphs read besides (not written to the JSON). */
    headline?: Pick<HeadlineInput, 'kind' | 'liveProvenance' | 'recheck' | 'totals'> & {
      /** The definition versions of the stream's own rows of the day (version 0); none: it wrote none. */
      streamDefinitions?: readonly string[];
    };
    /**
     * Every live cell (csv, json, md --cells) with the definition version that computed it (a mixed day's
     * rows told apart); the Markdown summary reads none (definition_versions counts them).
     */
    rows: Rows;
  }[];
}

function rowJson(r: StoredRow): ReportRow {
  return {
    window_start: new Date(r.windowStart).toISOString(), window_end: r.windowEnd === null ? null : new Date(r.windowEnd).toISOString(),
    key: r.key, values: r.values, revision: r.revision, provenance: r.provenance, generation: r.generation, definition_version: r.definitionVersion,
  };
}

/**
 * One CSV field (RFC 4180): quoted when it holds a quote, a comma or a line break — CR as well as LF (an
 * unquoted CR ends the record in a strict reader); objects as JSON. A text that a spreadsheet would run
 * as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a CR: a pipeline named `=HYPERLINK(...)`, a
 * negative year) gets a leading `'` (OWASP's CSV injection advice; Excel and LibreOffice show it as text).
 * Keys and values are JSON objects (they start with `{`), numbers are numbers: those are never changed.
 */
export const csvCell = (v: unknown) => {
  const text = typeof v === 'string' ? (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v) : JSON.stringify(v);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
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
    const selected = pipelinesFor(registry, v.pipeline, loadSettings({}));
    // A reader: never waits for writers (no writers' lock), one consistent snapshot of the day. A DuckDB
    // file that is not there is a user error here, before anything is read (and it is not created).
    const reader = await openStoreReader(storeUrl(v), { registry });
    const cells = v.cells === true;
    const output = v.output === undefined ? undefined : String(v.output);
    let missing: string[] = [];
    let unnamed: string[] = [];
    const pruned: string[] = [];
    const noData: string[] = [];
    try {
      await reader.read(async (snapshot) => {
        const { store } = snapshot;
        const held = snapshot.empty ? [] : await snapshot.pipelines();
        missing = checkHeld(reader, registry, selected, held, held.length === 0 ? await snapshot.otherStores() : []);
        unnamed = held.filter((name) => !registry.pipelines.some((d) => d.name === name));
        const out: DayReport<ReportRows> = { date, pipelines: [] };
        // The rows are read a page at a time as they are written (`liveRows`), so a big day is never held
        // whole; the md summary only counts them. The versions in the rows' order where the text lists them
        // beside the rows (json, md --cells: as counted from the rows when md --cells held them).
        const withRows = format !== 'md' || cells;
        for (const def of selected) {
          const [status, recs, empty, counted, provenance, byVersion] = await Promise.all([
            store.status(def.name, date), store.reconciliations(def.name, date), store.holdsNothing(def.name, date),
            format === 'csv' || !withRows ? store.definitionVersions(def.name, date) : store.definitionVersionsInRowOrder(def.name, date),
            store.liveProvenance(def.name, date), store.definitionVersionsByVersion(def.name, date),
          ]);
          // A day the retention deleted is no empty day: said (all pipelines: exit 2, before anything is written).
          const prunedAt = empty ? await store.prunedAt(def.name, date) : null;
          if (prunedAt !== null) pruned.push(`${def.name} (at ${new Date(prunedAt).toISOString()})`);
          else if (empty && !missing.includes(def.name)) noData.push(def.name);
          out.pipelines.push({
            pipeline: def.name, status, empty,
            stream_reached: streamReached(date, status.watermark), stream_passed: streamPassed(date, status.watermark, def.kind === 'windowed' ? def.window : undefined),
            reconciliation: currentReconciliation(recs), definition_versions: Object.fromEntries(counted), definition_version: definitionVersion(def),
            headline: {
              kind: def.kind, liveProvenance: Object.fromEntries(provenance), ...(recs.at(-1)?.status === 'unchanged' ? { recheck: recs.at(-1)! } : {}),
              streamDefinitions: [...(byVersion.get(0)?.keys() ?? [])],
              ...(def.kind === 'windowed'
                ? { totals: { names: def.aggregates.filter((a) => a.aggregate.kind === 'count' || a.aggregate.kind === 'sum').map((a) => a.output), overlapping: def.window.kind === 'hopping' } }
                : {}),
            },
            rows: withRows ? liveRows(store, def.name, date) : [],
          });
        }
        if (pruned.length === selected.length) {
          throw new ConfigError(`${date} was pruned by the store's retention: ${pruned.join(', ')}; its rows are gone (docs/operations.md, "Retention")`);
        }
        // Written inside the snapshot: the rows' pages are read from it as the text goes out.
        const pieces = format === 'json' ? jsonPieces(out) : format === 'csv' ? csvPieces(out) : markdownPieces(out, cells);
        await writeReport(pieces, output);
      });
    } finally {
      await reader.close();
    }
    if (pruned.length > 0) process.stderr.write(`note: ${date} of ${pruned.join(', ')} was pruned by the store's retention (reported empty)\n`);
    // CSV has no place to say that a pipeline's day holds nothing (md says it, json has "empty"): its rows are
    // then only the header, which a loader reads as a day of no traffic.
    if (format === 'csv' && noData.length > 0) process.stderr.write(`note: no data of ${noData.join(', ')} on ${date}: nothing was streamed into the store or reconciled for it (no rows in the CSV)\n`);
    // A pipeline renamed in the definitions is a new one: the old name's rows stay in the store, unread.
    const renamed = unnamed.length === 0 ? '' : `; it holds results of ${unnamed.join(', ')}, which the definitions do not name ` +
      '(renamed or removed: report those with the definitions they ran with)';
    if (missing.length > 0) process.stderr.write(`note: the store ${reader.location} holds no results of ${missing.join(', ')} (reported empty)${renamed}\n`);
    return 0;
  },
};

/**
 * A report of pipelines the store holds nothing of is a mistake (a mistyped --store, or other
 * definitions than the store was filled with), not an empty report: a user error naming what the store
 * holds. Returns the selected pipelines it holds nothing of when it holds some of the others.
 */
function checkHeld(reader: StoreReader, registry: Registry, selected: readonly PipelineDefinition[], held: readonly string[], others: readonly string[]): string[] {
  const url = reader.location;
  const schema = reader.backend === 'postgres' || others.length > 0 || reader.schema !== 'concord' ? ` (schema ${reader.schema})` : '';
  if (held.length === 0) throw new NoStoreError(`the store ${url}${schema} holds no results`, url, others);
  const missing = selected.map((d) => d.name).filter((n) => !held.includes(n));
  if (missing.length < selected.length) return missing;
  if (selected.length < registry.pipelines.length) throw new ConfigError(`the store ${url} holds no results of ${missing.join(', ')} (it holds ${held.join(', ')}): check --pipeline or --store`);
  throw new ConfigError(
    `the store ${url} holds the pipelines ${held.join(', ')}; the definitions (${registry.origin}) name ${registry.pipelines.map((d) => d.name).join(', ') || 'none'}: ` +
      'pass the --definitions the store was filled with (or CONCORD_DEFINITIONS), or check --store',
  );
}

/** The report as JSON: as read, but a reconciliation that replaced no version says so with null (its record: -1), as the API does. */
function reportJson(r: DayReport<ReportRows>) {
  return {
    ...r,
    pipelines: r.pipelines.map(({ headline: _, ...p }) => ({
      ...p,
      // status.watermark stays epoch milliseconds (what scripts read since it was written); watermark_at is
      // the same instant in ISO, as the API and every other time of this report say it.
      status: { ...p.status, watermark_at: typeof p.status.watermark === 'number' && Number.isFinite(p.status.watermark) ? isoMillis(p.status.watermark) : null },
      reconciliation: p.reconciliation && { ...p.reconciliation, previous_generation: previousVersionOf(p.reconciliation) },
    })),
  };
}

/** A day's live rows of a snapshot, read a part at a time in `current`'s order. */
async function* liveRows(store: SqlResultStore, pipeline: string, date: string): AsyncIterable<ReportRow> {
  for await (const part of store.currentInParts(pipeline, date, PAGE_ROWS())) for (const r of part) yield rowJson(r);
}

export async function toCsv(r: DayReport<ReportRows>): Promise<string> {
  let text = '';
  for await (const piece of csvPieces(r)) text += piece;
  return text;
}

/**
 * The report's text a piece at a time (a line, a row), never as one string: a day's JSON is ~400 bytes a
 * cell, so one string of it passed V8's limit (~512 MB) at about 1.3M cells, and held the day twice.
 */
async function* csvPieces(r: DayReport<ReportRows>): AsyncIterable<string> {
  yield 'pipeline,window_start,window_end,key,values,revision,provenance,generation,definition_version\n';
  for (const p of r.pipelines) {
    for await (const x of p.rows) yield [p.pipeline, x.window_start, x.window_end ?? '', x.key, x.values, x.revision, x.provenance, x.generation, x.definition_version].map(csvCell).join(',') + '\n';
  }
}

/**
 * `JSON.stringify(reportJson(r), null, 2)` and a line break, with each pipeline's rows stringified one by
 * one as they come (a comma before each row but the first: the count is not known ahead).
 */
export async function* jsonPieces(r: DayReport<ReportRows>): AsyncIterable<string> {
  const marker = `rows ${randomUUID()}`;
  const json = reportJson(r);
  const text = JSON.stringify({ ...json, pipelines: json.pipelines.map((p) => ({ ...p, rows: marker })) }, null, 2);
  // Each pipeline's rows are at depth 3 (report, pipelines, pipeline): the array's items at 8 spaces.
  const parts = text.split(`"rows": ${JSON.stringify(marker)}`);
  if (parts.length !== r.pipelines.length + 1) throw new Error(`internal: the report's rows marker was found ${parts.length - 1} times for ${r.pipelines.length} pipelines`);
  for (let i = 0; i < r.pipelines.length; i++) {
    yield parts[i]!;
    let first = true;
    for await (const row of r.pipelines[i]!.rows) {
      yield `${first ? '"rows": [\n' : ',\n'}        ${JSON.stringify(row, null, 2).replaceAll('\n', '\n        ')}`;
      first = false;
    }
    yield first ? '"rows": []' : '\n      ]';
  }
  yield `${parts.at(-1)!}\n`;
}

/** Writes the pieces to `path` (temp file, renamed once complete) or to stdout, a chunk at a time. */
async function writeReport(pieces: Iterable<string> | AsyncIterable<string>, path: string | undefined): Promise<void> {
  if (path !== undefined) {
    const out = new JsonlWriter(path);
    try {
      for await (const piece of pieces) {
        out.writeText(piece);
        await out.maybeFlush();
      }
      await out.close();
    } catch (error) {
      await out.abort();
      throw error;
    }
    return;
  }
  let chunk = '';
  for await (const piece of pieces) {
    chunk += piece;
    if (chunk.length < 1 << 20) continue;
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    chunk = '';
  }
  process.stdout.write(chunk);
}
