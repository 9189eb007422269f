import type { ResultRecord } from '../schemas/results.ts';

/** The cells a reconciliation covers: windows starting (alerts raised) in [from, to); undefined: all. */
export type Range = { readonly from: number; readonly to: number } | undefined;

export function inRange(r: ResultRecord, range: Range): boolean {
  const at = r.kind === 'window' ? r.windowStart : r.ts;
  return !range || (at >= range.from && at < range.to);
}
