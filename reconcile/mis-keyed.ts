/**
 * `mis_keyed`: a pipeline computed per input partition (no merge stage: stream/kafka/topics.ts
 * `needsMergeStage`) counts a key whole only when all of the key's events are in one partition, as a
 * topic keyed by the partition key field promises. A producer that sends no record key, or keys by
 * another field, breaks that: each partition's operator counts its share of a cell, and one share's row
 * replaces the other's (docs/operations.md, "not keyed by the partition key"). The archive keeps each
 * event's partition (`_source`), so such a cell shows in it: its events lie in more than one partition of
 * the topic, and the stream's value is what one partition's events alone give.
 */
import { quoteIdent, type DuckDb } from '../batch/duckdb.ts';
import { inTimeRanges, replay } from '../batch/replay.ts';
import type { WindowCell } from '../batch/replay-cells.ts';
import { archiveFiles } from '../batch/replay-source.ts';
import { timeExpr } from '../batch/replay-sql.ts';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { eventPaneIdOf, paneId, type KeyValues } from '../pipeline/keys.ts';
import { cellKey, type ResultRecord } from '../schemas/results.ts';
import { needsMergeStage, partitionKeyField } from '../stream/kafka/topics.ts';
import { sameValueOf } from './attribution.ts';
import { finalResults } from './final-results.ts';
import type { LoggedLate } from './reconcile.ts';
import { ruleShares } from './rule-shares.ts';

/** A Kafka source (`topic:partition`), as the archiver names it; files are `file:<path>`. */
const KAFKA_SOURCE_SQL = `regexp_matches(_source, ':[0-9]+$')`;

/** What the archive reads: a day's files and time ranges, and the deliveries the stream never counted (late, quarantined). */
export interface MisKeyedRead {
  readonly files?: readonly string[] | undefined;
  readonly timeRanges?: readonly { from: number; to: number }[] | undefined;
  readonly exclude?: readonly { source: string; offset: number }[] | undefined;
  /**
   * Hopping windows: the windows that skipped an event their other windows counted (late for those alone:
   * in no late log). A share counts such an event in those windows only as the stream did: not at all.
   */
  readonly excludeFromWindows?: readonly { source: string; offset: number; windowStart: number }[] | undefined;
  /**
   * Rules: the workers' verdicts (logged, or judged per partition; none: every event on time). A share is
   * the stream's rule operator over the partition's events with them (rule-shares.ts), not complete data:
   * an event its partition evaluated on arrival changes the alerts as it did there.
   */
  readonly ruleVerdicts?: readonly LoggedLate[] | undefined;
}

/**
 * For the differences nothing else explained (`rows`: realtime and replayed result of each), the
 * partitions of each mis-keyed one, by cell id: the partition whose share the stream's value is first,
 * then the others its events lie in. Nothing is read when nothing is left unexplained or the pipeline has a
 * merge stage; over a topic keyed right, one aggregate over the partition key of what the day reads.
 */
export async function misKeyedCells(
  db: DuckDb, def: PipelineDefinition, archiveDir: string, rows: readonly { rt?: ResultRecord | undefined; rp?: ResultRecord | undefined }[], read: MisKeyedRead,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (rows.length === 0 || needsMergeStage(def) || read.files?.length === 0) return out;
  const spread = await spreadKeys(db, def, archiveDir, read);
  if (spread.size === 0) return out;
  const partitionKey = partitionKeyField(def.schema);
  // The partition key's identity of a result (its key holds that field: the pipeline has no merge stage).
  const spreadOver = (r: ResultRecord) => spread.get(paneId([partitionKey], r.key as Record<string, unknown>));
  const asked = rows.flatMap((row) => {
    const r = (row.rt ?? row.rp)!;
    const sources = spreadOver(r);
    return sources ? [{ row, r, sources }] : [];
  });
  if (asked.length === 0) return out;
  const sources = [...new Set(asked.flatMap((a) => a.sources))].sort();
  const shares = def.kind === 'rule'
    ? await ruleShares(db, def, archiveDir, asked.map(({ r }) => r.key as KeyValues), sources, read.ruleVerdicts ?? [], read)
    : await windowShares(db, def, archiveDir, sources, asked.map(({ r }) => r as Extract<ResultRecord, { kind: 'window' }>), read);
  const sameValue = sameValueOf(def);
  for (const { row, r, sources: of } of asked) {
    const id = cellKey(r);
    // A window's partitions are those holding events of the window; an alert's, every one its key's events are in.
    const holding = def.kind === 'windowed' ? of.filter((s) => shares.get(s)!.has(id)) : of;
    if (holding.length < 2) continue;
    // The stream's row is one share's; an alert the stream lacks is one no share raises.
    const own = row.rt === undefined
      ? (holding.every((s) => !shares.get(s)!.has(id)) ? holding[0] : undefined)
      : holding.find((s) => sameValue(row.rt, shares.get(s)!.get(id)));
    if (own !== undefined) out.set(id, [own, ...holding.filter((s) => s !== own)]);
  }
  return out;
}

/** Each partition's share of the asked windows: only those cells, from their events alone (batch/replay-cells.ts). */
async function windowShares(
  db: DuckDb, def: PipelineDefinition, archiveDir: string, sources: readonly string[], asked: readonly Extract<ResultRecord, { kind: 'window' }>[], read: MisKeyedRead,
): Promise<Map<string, Map<string, ResultRecord>>> {
  const cells: WindowCell[] = asked.map((r) => ({ windowStart: r.windowStart, key: r.key as WindowCell['key'] }));
  const shares = new Map<string, Map<string, ResultRecord>>();
  for (const source of sources) {
    const results = await replay(def, archiveDir, {
      db, exactDistinct: false, source, cells,
      ...(read.files ? { files: read.files } : {}), ...(read.timeRanges ? { timeRanges: read.timeRanges } : {}),
      ...(read.exclude && read.exclude.length > 0 ? { exclude: read.exclude } : {}),
      ...(read.excludeFromWindows && read.excludeFromWindows.length > 0 ? { excludeFromWindows: read.excludeFromWindows } : {}),
    });
    shares.set(source, finalResults(results));
  }
  return shares;
}

/**
 * The partition key values whose events lie in more than one partition of one topic, with those
 * partitions: one aggregate (hashes grouped, as for repeated ids: evidence.ts), then the spread keys' values.
 */
async function spreadKeys(db: DuckDb, def: PipelineDefinition, archiveDir: string, read: MisKeyedRead): Promise<Map<string, string[]>> {
  const field = partitionKeyField(def.schema);
  const col = quoteIdent(field);
  const ranges = read.timeRanges ? ` AND ${inTimeRanges(timeExpr(def), read.timeRanges)}` : '';
  const files = archiveFiles(archiveDir, def, read.files);
  const topic = `regexp_replace(_source, ':[0-9]+$', '')`;
  await db.run(`CREATE OR REPLACE TEMP TABLE mis_keyed_hashes AS
    SELECT hash(${col}) AS h FROM ${files} WHERE ${KAFKA_SOURCE_SQL}${ranges}
    GROUP BY h, ${topic} HAVING min(_source) <> max(_source)`);
  if (Number((await db.rows('SELECT count(*) AS n FROM mis_keyed_hashes'))[0]!.n) === 0) return new Map();
  const timestamp = def.schema.fields[field]?.kind === 'timestamp';
  const value = timestamp ? `epoch_ms(${col})` : col;
  const rows = await db.rows(`SELECT ${value} AS v, list(DISTINCT _source ORDER BY _source) AS sources FROM ${files}
    WHERE ${KAFKA_SOURCE_SQL}${ranges} AND hash(${col}) IN (SELECT h FROM mis_keyed_hashes)
    GROUP BY ${col}, ${topic} HAVING min(_source) <> max(_source)`);
  const pane = eventPaneIdOf(def.schema, [field]);
  const out = new Map<string, string[]>();
  for (const row of rows) {
    const v = typeof row.v === 'bigint' ? Number(row.v) : row.v;
    const id = pane({ [field]: v ?? undefined });
    out.set(id, [...new Set([...(out.get(id) ?? []), ...(row.sources as unknown[]).map(String)])].sort());
  }
  return out;
}
