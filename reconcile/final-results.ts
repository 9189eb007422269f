import { cellKey, type ResultRecord } from '../schemas/results.ts';

/** The highest revision of each (window, key) cell, and every alert: what a changelog settles to. */
export function finalResults<T extends ResultRecord>(records: Iterable<T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const r of records) {
    const id = cellKey(r);
    const seen = out.get(id);
    if (seen === undefined || (r.kind === 'window' && seen.kind === 'window' && r.revision >= seen.revision)) out.set(id, r);
  }
  return out;
}
