import { quoteString, type DuckDb } from './duckdb.ts';

/** Runs of consecutive archived offsets of one source, `[first, last]` inclusive, sorted and apart. */
export type OffsetRuns = [number, number][];

/** The union of sorted run lists, adjacent runs joined. */
export function mergeRuns(...lists: OffsetRuns[]): OffsetRuns {
  const all = lists.flat().sort((x, y) => x[0] - y[0]);
  const out: OffsetRuns = [];
  for (const [lo, hi] of all) {
    const last = out.at(-1);
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/**
 * Runs as stored: `[first, length - 1, missing before the next run, its length - 1, ...]`. Small numbers
 * instead of two absolute offsets per run: a transactional topic (an offset per transaction marker)
 * has a run per transaction, each then `1,n,` in the file instead of `[123456789,123456800],`.
 */
export function encodeRuns(runs: OffsetRuns): number[] {
  const out: number[] = [];
  runs.forEach(([lo, hi], i) => out.push(i === 0 ? lo : lo - runs[i - 1]![1] - 1, hi - lo));
  return out;
}

/** The runs of `encodeRuns`; undefined when `coded` is not such a list (a damaged ledger: rebuilt). */
export function decodeRuns(coded: unknown): OffsetRuns | undefined {
  if (!Array.isArray(coded) || coded.length % 2 !== 0) return undefined;
  const out: OffsetRuns = [];
  for (let i = 0; i < coded.length; i += 2) {
    const step = coded[i], span = coded[i + 1];
    if (!Number.isSafeInteger(step) || !Number.isSafeInteger(span) || span < 0 || (i > 0 && step < 1) || step < 0) return undefined;
    const lo = i === 0 ? step : out.at(-1)![1] + 1 + step;
    out.push([lo, lo + span]);
  }
  return out;
}

/**
 * The runs of distinct offsets per group and source in `files` (islands: an offset minus its rank is
 * constant along a run); `groupOf` names a file's group as a SQL expression over its path `_archive_file`.
 */
export async function runsOfFiles(db: DuckDb, files: readonly string[], groupOf: string): Promise<Map<string, Map<string, OffsetRuns>>> {
  const out = new Map<string, Map<string, OffsetRuns>>();
  if (files.length === 0) return out;
  const c = await db.columns(`SELECT g, _source AS s, min(_offset) AS a, max(_offset) AS b FROM (
      SELECT g, _source, _offset, _offset - row_number() OVER (PARTITION BY g, _source ORDER BY _offset) AS island
      FROM (SELECT DISTINCT ${groupOf} AS g, _source, _offset
        FROM read_parquet([${files.map(quoteString).join(', ')}], hive_partitioning = false, filename = '_archive_file')))
    GROUP BY g, _source, island ORDER BY g, s, a`);
  (c.s ?? []).forEach((s, i) => {
    const group = String(c.g![i]), source = String(s);
    let bySource = out.get(group);
    if (!bySource) out.set(group, (bySource = new Map()));
    let list = bySource.get(source);
    if (!list) bySource.set(source, (list = []));
    list.push([Number(c.a![i]), Number(c.b![i])]);
  });
  return out;
}
