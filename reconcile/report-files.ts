import { constants } from 'node:fs';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { safeName } from '../pipeline/names.ts';
import { dayReportMarkdown, type DayReconciliation } from './day-report.ts';

/**
 * A day's report files, `<dir>/<date>/<pipeline>.json|.md`: where they go, and whose they are. The JSON
 * names the store it reconciled (`store`): two stores whose definitions share a pipeline name (a
 * platform's two teams, their job workers started in one directory with the default report directory)
 * would otherwise replace each other's report, and a rerun would take the other store's file for its own.
 */

/** Where a day's report goes: `<dir>/<date>/<pipeline>.<ext>`, the pipeline's name made file-safe (`a/b`, `../x`). */
export function reportPath(dir: string, date: string, pipeline: string, ext: 'json' | 'md'): string {
  return join(dir, date, `${safeName(pipeline)}.${ext}`);
}

/** The store a report file names: null when there is no file, undefined when it names none (written before 2026-12-06, or without a store name). */
async function storeOfReport(path: string): Promise<string | undefined | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const store = (JSON.parse(text) as { store?: unknown }).store;
    return typeof store === 'string' ? store : undefined;
  } catch {
    return undefined; // half a file of a crash: this store's to write again
  }
}

/**
 * Before anything is published: the day's report directory can be written, and the pipeline's report
 * there is not another store's (`store`: this store's name; none: not checked).
 */
export async function prepareReportDir(dir: string | undefined, date: string, pipeline: string, store?: string): Promise<void> {
  if (dir === undefined) return;
  const day = join(dir, date);
  try {
    await mkdir(day, { recursive: true });
    await access(day, constants.W_OK);
  } catch (error) {
    throw new ConfigError(`the report directory ${day} cannot be written (${(error as Error).message}): pass another --report-dir, or fix it`, { cause: error });
  }
  const path = reportPath(dir, date, pipeline, 'json');
  const theirs = await storeOfReport(path);
  if (store !== undefined && typeof theirs === 'string' && theirs !== store) {
    throw new ConfigError(`${path} is the report of ${theirs}, and this reconciliation is of ${store}: give each store's reconciliations a report directory of their own (--report-dir DIR)`);
  }
}

/** Whether the pipeline's report of the day is written, by this store (`store`; none: any report). */
export async function reportWritten(dir: string, date: string, pipeline: string, store?: string): Promise<boolean> {
  const theirs = await storeOfReport(reportPath(dir, date, pipeline, 'json'));
  return theirs !== null && (store === undefined || theirs === undefined || theirs === store);
}

/** The JSON and Markdown report of a pipeline of `kind`, each written whole (temp, then rename), the JSON naming `store`. */
export async function writeReport(dir: string | undefined, rec: DayReconciliation, kind: PipelineDefinition['kind'], store?: string): Promise<void> {
  if (dir === undefined) return;
  await mkdir(join(dir, rec.date), { recursive: true });
  const json = JSON.stringify(store === undefined ? rec : { ...rec, store }, null, 2) + '\n';
  // Temp then rename: a reader never sees half a report.
  for (const [ext, text] of [['json', json], ['md', dayReportMarkdown(rec, kind)]] as const) {
    const path = reportPath(dir, rec.date, rec.pipeline, ext);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }
}
