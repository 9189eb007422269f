// Which sides of a day the day view's "realtime and batch" chart draws, from the day's pipeline entry of
// /api/days/D (`versions`, `live_version`, `reconciliation`). Pure, so it is tested without a browser.

/** Whether the day has the stream's own numbers, version 0: a day backfilled into (the stream never wrote it) has not. */
export function hasRealtime(p) {
  return p.versions.some((v) => v.version === 0);
}

/**
 * The chart's sides: `realtime` (version 0, when the day has it), `batch` (the live version, when a
 * corrected one is live), `missing` (why a side is not drawn) and `definitions` (when the two sides were
 * computed by different definitions: a day streamed under one and recomputed under a changed one). The
 * chart drew and labelled an empty "realtime (version 0)" line on a backfilled day, and the stream's line
 * twice (the second labelled "batch") on a day no reconciliation corrected.
 */
export function daySides(day, p) {
  const realtime = hasRealtime(p), batch = p.live_version > 0;
  const missing = !realtime ? `no realtime line: the stream ${p.stream_reached === false ? 'has not reached' : 'never wrote'} ${day} (the day was backfilled from the archive)`
    : !batch ? `no batch line: ${p.reconciliation?.status === 'failed_unexplained' ? 'the reconciliation published nothing'
      : p.versions.some((v) => v.version > 0) ? 'version 0 is live again (a revert)' : 'no reconciled version yet'}` : null;
  const defsOf = (n) => Object.keys(p.versions.find((v) => v.version === n)?.definition_versions ?? {}).sort().join(' + ');
  const definitions = realtime && batch && defsOf(0) !== defsOf(p.live_version)
    ? `the two lines were computed by different definitions (version 0: ${defsOf(0) || '—'}; version ${p.live_version}: ${defsOf(p.live_version) || '—'})` : null;
  return { realtime, batch, missing, definitions };
}
