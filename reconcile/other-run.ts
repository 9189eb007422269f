/**
 * `other_run`: cells whose stream rows another run over other input of the same windows contradicted
 * (store/stream-writes.ts keeps the first run's row and records the cell). The stream's number there
 * misses that input's events, so a difference no other cause explains is owed to it.
 */
import type { DuckDb } from '../batch/duckdb.ts';
import { replay } from '../batch/replay.ts';
import { archiveFiles, sourceRelation } from '../batch/replay-source.ts';
import type { WindowedPipeline } from '../pipeline/definition.ts';
import { windowCellId } from '../pipeline/keys.ts';
import type { ResultRecord } from '../schemas/results.ts';
import { finalResults } from './final-results.ts';
import type { DirtyCell } from './reconcile-day.ts';

/**
 * Whether a window result lies in a contradicted cell. Windows only: an alert is its event's cell, which
 * another run over other input does not write (a run over the same events is a duplicate).
 */
export function contradictedBy(cells: readonly DirtyCell[] | undefined): (r: ResultRecord | undefined) => boolean {
  if (cells === undefined || cells.length === 0) return () => false;
  const ids = new Set(cells.map((c) => windowCellId(c.windowStart, Object.keys(c.key), c.key)));
  return (r) => r?.kind === 'window' && ids.has(windowCellId(r.windowStart, Object.keys(r.key), r.key));
}

/**
 * The stream's value of each window cell over one input file alone, per file the day's archive holds
 * (`file:` sources; none when it holds fewer than two). The store records a cell another run contradicted
 * only when the two runs' values differ: a day's second file whose value of a cell equals the first's
 * looks like a rerun of the same input (its rows are dropped as replays), so the cell is not recorded,
 * while the replay counts both files. A stored value that is exactly one file's (every delivery counted,
 * without the events the workers logged late: what one `concord stream` run over it gives) is that case.
 * Files only: a Kafka source is a partition, and one partition's share of a cell is no run's value.
 */
export async function singleFileValues(
  db: DuckDb, def: WindowedPipeline, archiveDir: string,
  o: { timeRanges?: readonly { from: number; to: number }[]; files?: readonly string[]; exclude?: readonly { source: string; offset: number }[] },
): Promise<Map<string, ResultRecord>[]> {
  if (o.files && o.files.length === 0) return [];
  const read = { ...(o.timeRanges ? { timeRanges: o.timeRanges } : {}) };
  const relation = sourceRelation(def, archiveDir, read, archiveFiles(archiveDir, def, o.files));
  const sources = (await db.rows(`SELECT DISTINCT _source FROM ${relation} WHERE _source LIKE 'file:%' ORDER BY _source`)).map((r) => String(r._source));
  if (sources.length < 2) return [];
  const out: Map<string, ResultRecord>[] = [];
  for (const source of sources) {
    const results = await replay(def, archiveDir, { db, exactDistinct: false, ...read, ...(o.files ? { files: o.files } : {}), ...(o.exclude ? { exclude: o.exclude } : {}), source });
    out.push(finalResults(results));
  }
  return out;
}
