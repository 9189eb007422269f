/** What one run left behind (archive, results topic, store), and how a faulty run differs from the fault-free one. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Registry } from '../../pipeline/registry.ts';
import { cellKey, type ResultRecord } from '../../schemas/results.ts';
import { openStore } from '../../store/open-store.ts';
import { readLatestByKey } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';

export interface RunState {
  /** schema -> event id -> how many times the archive holds it */
  archive: Map<string, Map<string, number>>;
  /** pipeline -> cell -> values, as the stream wrote them to the store (before reconcile) */
  realtime: Map<string, Map<string, string>>;
  /** pipeline -> cell -> values visible after reconcile */
  live: Map<string, Map<string, string>>;
  /** pipeline -> ids of the events the workers judged late */
  late: Map<string, string[]>;
  /** pipeline -> unexplained differences of its latest reconciliation (null: none ran) */
  unexplained: Map<string, number | null>;
  /** Σ views of page_views_per_minute in the results topic (latest per key) */
  topicViews: number;
}

export async function archiveIds(dir: string, schema: string, idField: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!existsSync(join(dir, schema))) return out;
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const glob = join(dir, schema, 'dt=*', 'hour=*', '*.parquet').replaceAll("'", "''");
    const r = await c.runAndReadAll(`SELECT CAST("${idField}" AS VARCHAR) AS id, count(*)::INTEGER AS n FROM read_parquet('${glob}', union_by_name = true) GROUP BY 1`);
    for (const [id, n] of r.getRows()) out.set(String(id), Number(n));
  } finally {
    c.closeSync();
    db.closeSync();
  }
  return out;
}

const valuesOf = (r: ResultRecord) => JSON.stringify(r.kind === 'window' ? r.values : r.value);

export async function readRun(o: { registry: Registry; store: string; archive: string; date: string; brokers: string; prefix: string }): Promise<RunState> {
  const archive = new Map<string, Map<string, number>>();
  for (const schema of o.registry.schemas.values()) archive.set(schema.name, await archiveIds(o.archive, schema.name, schema.idField));
  const store = await openStore(o.store, { registry: o.registry });
  const realtime = new Map<string, Map<string, string>>(), live = new Map<string, Map<string, string>>();
  const late = new Map<string, string[]>(), unexplained = new Map<string, number | null>();
  try {
    for (const def of o.registry.pipelines) {
      const idField = def.schema.idField;
      realtime.set(def.name, new Map((await store.realtimeResults(def.name, o.date)).map((r) => [cellKey(r), valuesOf(r)])));
      live.set(def.name, new Map((await store.current(def.name, o.date)).map((r) => [`${r.windowStart}|${r.cell}`, JSON.stringify(r.values)])));
      late.set(def.name, (await store.lateEvents(def.name, o.date)).map((l) => String((l.record.event as Record<string, unknown>)[idField])));
      const recs = await store.reconciliations(def.name, o.date);
      unexplained.set(def.name, recs.length === 0 ? null : recs.at(-1)!.report.unexplained);
    }
  } finally {
    await store.close();
  }
  const topic = await readLatestByKey({ brokers: o.brokers.split(','), clientId: 'concord-chaos' }, topicNames(o.prefix).results);
  let topicViews = 0;
  for (const v of topic.values()) {
    const row = JSON.parse(v) as Record<string, unknown>;
    if (row.pipeline === 'page_views_per_minute') topicViews += Number(row.views ?? 0);
  }
  return { archive, realtime, live, late, unexplained, topicViews };
}

export interface Comparison { lost: number; doubled: number; different: number }

/** Event ids the faulty archive lacks (lost) or holds more often than the fault-free one (doubled). */
export function compareArchive(base: RunState, run: RunState): Comparison & { rows: string } {
  let lost = 0, doubled = 0, baseRows = 0, runRows = 0;
  for (const [schema, ids] of base.archive) {
    const got = run.archive.get(schema) ?? new Map<string, number>();
    for (const [id, n] of ids) {
      baseRows += n;
      const m = got.get(id) ?? 0;
      if (m < n) lost += n - m;
    }
    for (const [id, m] of got) {
      runRows += m;
      const n = ids.get(id) ?? 0;
      if (m > n) doubled += m - n;
    }
  }
  return { lost, doubled, different: 0, rows: `${runRows} archived rows vs ${baseRows}` };
}

/** The cells of `b` that differ from `a`'s, as `pipeline cell: a-values -> b-values` ('-' for a missing cell). */
export function differingCells(a: Map<string, Map<string, string>>, b: Map<string, Map<string, string>>): string[] {
  const out: string[] = [];
  for (const [p, cells] of a) {
    const other = b.get(p) ?? new Map<string, string>();
    for (const [k, v] of cells) if (other.get(k) !== v) out.push(`${p} ${k}: ${v} -> ${other.get(k) ?? '-'}`);
    for (const [k, v] of other) if (!cells.has(k)) out.push(`${p} ${k}: - -> ${v}`);
  }
  return out;
}

const cellsDifferent = (a: Map<string, Map<string, string>>, b: Map<string, Map<string, string>>) => differingCells(a, b).length;

const sumViews = (cells: Map<string, string> | undefined) =>
  [...(cells ?? new Map<string, string>()).values()].reduce((s, v) => s + Number((JSON.parse(v) as { views?: number }).views ?? 0), 0);

/** Valid clicks of the day: the click rows in the run's archive (its ids are checked against the fault-free archive). */
const archivedClicks = (run: RunState) => [...(run.archive.get('clicks') ?? new Map<string, number>()).values()].reduce((a, b) => a + b, 0);

/**
 * The stream's accounting of clicks: every valid click is either counted in a window of page_views_per_minute
 * or recorded late. Fewer than the archive holds: lost; more: doubled. Cells: realtime rows that differ from the
 * fault-free run's.
 */
export function compareStream(base: RunState, run: RunState): Comparison {
  const p = 'page_views_per_minute';
  const delta = sumViews(run.realtime.get(p)) + (run.late.get(p)?.length ?? 0) - archivedClicks(run);
  return { lost: Math.max(0, -delta), doubled: Math.max(0, delta), different: cellsDifferent(base.realtime, run.realtime) };
}

/** The sink: Σ views the workers published (results topic) against Σ views the store holds, in the same run. */
export function compareSink(base: RunState, run: RunState): Comparison {
  const delta = sumViews(run.realtime.get('page_views_per_minute')) - run.topicViews;
  return { lost: Math.max(0, -delta), doubled: Math.max(0, delta), different: cellsDifferent(base.realtime, run.realtime) };
}

/**
 * After reconcile: the visible day counts every archived click once (a published replay covers late clicks too).
 * Cells: against the fault-free run's visible day.
 */
export function compareLive(base: RunState, run: RunState): Comparison {
  const delta = sumViews(run.live.get('page_views_per_minute')) - archivedClicks(run);
  return { lost: Math.max(0, -delta), doubled: Math.max(0, delta), different: cellsDifferent(base.live, run.live) };
}

export function unexplainedOf(run: RunState): number {
  let n = 0;
  for (const u of run.unexplained.values()) n += u ?? 0;
  return n;
}

export function lateSummary(base: RunState, run: RunState): string {
  const parts: string[] = [];
  for (const [p, ids] of base.late) {
    const a = new Set(ids), b = new Set(run.late.get(p) ?? []);
    const onlyBase = [...a].filter((x) => !b.has(x)).length, onlyRun = [...b].filter((x) => !a.has(x)).length;
    parts.push(`${p}: ${a.size} late fault-free, ${b.size} with faults (${onlyBase} only fault-free, ${onlyRun} only with faults)`);
  }
  return parts.join('; ');
}
