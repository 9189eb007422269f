/**
 * `other_run`: cells whose stream rows another run over other input of the same windows contradicted
 * (store/stream-writes.ts keeps the first run's row and records the cell). The stream's number there
 * misses that input's events, so a difference no other cause explains is owed to it.
 */
import { windowCellId } from '../pipeline/keys.ts';
import type { ResultRecord } from '../schemas/results.ts';
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
