import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSchema } from '../schemas/schema.ts';
import { offsetsDir, RACY_LISTING_MS, schemaDir } from './archive-layout.ts';
import { quoteString, type DuckDb } from './duckdb.ts';

/** Runs of consecutive archived offsets of one source, `[first, last]` inclusive, sorted and apart. */
export type OffsetRuns = [number, number][];

/**
 * The archived offsets of every source, as runs, kept in `<schema>/_offsets/ledger.json` so that a day's
 * reconcile reads only the Parquet files written since the last one instead of every offset of the
 * archive (reconcile/evidence.ts: the archive's gaps). Sound because archive files are written whole
 * (temp then rename) and never changed: the ledger records each hour folder's mtime and its files'
 * sizes, mtimes and inodes (a file renamed over another is a new inode, even copied with its mtime); a
 * folder whose mtime is unchanged is not listed again, a changed one is listed and
 * only its new files are read. A file removed or changed (moved to `_corrupt/`, a torn flush removed,
 * a day deleted) cannot be taken out of a union of runs, so the ledger is rebuilt from every file.
 */
interface Ledger {
  readonly version: 1;
  /** Hour folders by `dt=D/hour=H`: mtime when listed (-1: listed too soon after a change to trust it), files by name. */
  folders: Record<string, { mtimeMs: number; files: Record<string, { size: number; mtimeMs: number; ino: number }> }>;
  runs: Record<string, OffsetRuns>;
}


export async function archivedOffsetRuns(dir: string, schema: EventSchema, db: DuckDb): Promise<Map<string, OffsetRuns>> {
  const root = schemaDir(dir, schema);
  const old = await readLedger(dir, schema);
  const now = Date.now();
  const next: Ledger = { version: 1, folders: {}, runs: {} };
  const added: string[] = [];
  let removed = false;
  const listedOld = new Set<string>();
  for (const day of (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('dt=')).sort()) {
    for (const hour of (await readdir(join(root, day)).catch(() => [] as string[])).filter((n) => n.startsWith('hour=')).sort()) {
      const rel = `${day}/${hour}`, folder = join(root, rel);
      const mtimeMs = (await stat(folder).catch(() => undefined))?.mtimeMs;
      if (mtimeMs === undefined) continue;
      const before = old?.folders[rel];
      if (before) listedOld.add(rel);
      if (before && before.mtimeMs === mtimeMs) {
        next.folders[rel] = before;
        continue;
      }
      const files: Ledger['folders'][string]['files'] = {};
      for (const name of (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.parquet')).sort()) {
        const s = await stat(join(folder, name)).catch(() => undefined);
        if (!s) continue;
        files[name] = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
        const was = before?.files[name];
        if (!was) added.push(join(folder, name));
        else if (was.size !== s.size || was.mtimeMs !== s.mtimeMs || was.ino !== s.ino) removed = true;
      }
      if (before && Object.keys(before.files).some((name) => !(name in files))) removed = true;
      next.folders[rel] = { mtimeMs: now - mtimeMs < RACY_LISTING_MS ? -1 : mtimeMs, files };
    }
  }
  if (old && Object.keys(old.folders).some((rel) => !listedOld.has(rel))) removed = true;
  const rebuild = !old || removed;
  const files = rebuild ? Object.entries(next.folders).flatMap(([rel, f]) => Object.keys(f.files).map((name) => join(root, rel, name))) : added;
  const runs = new Map<string, OffsetRuns>(rebuild ? [] : Object.entries(old.runs));
  for (const [source, fresh] of await runsOf(db, files)) runs.set(source, mergeRuns(runs.get(source) ?? [], fresh));
  next.runs = Object.fromEntries([...runs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (rebuild || added.length > 0 || JSON.stringify(next.folders) !== JSON.stringify(old?.folders)) await writeLedger(dir, schema, next);
  return new Map(Object.entries(next.runs));
}

/** The runs of distinct offsets per source in `files` (islands: an offset minus its rank is constant along a run). */
async function runsOf(db: DuckDb, files: readonly string[]): Promise<Map<string, OffsetRuns>> {
  const out = new Map<string, OffsetRuns>();
  if (files.length === 0) return out;
  const c = await db.columns(`SELECT _source AS s, min(_offset) AS a, max(_offset) AS b FROM (
      SELECT _source, _offset, _offset - row_number() OVER (PARTITION BY _source ORDER BY _offset) AS island
      FROM (SELECT DISTINCT _source, _offset FROM read_parquet([${files.map(quoteString).join(', ')}], hive_partitioning = false)))
    GROUP BY _source, island ORDER BY s, a`);
  (c.s ?? []).forEach((s, i) => {
    const source = String(s);
    let list = out.get(source);
    if (!list) out.set(source, (list = []));
    list.push([Number(c.a![i]), Number(c.b![i])]);
  });
  return out;
}

/** The union of two sorted run lists, adjacent runs joined. */
export function mergeRuns(a: OffsetRuns, b: OffsetRuns): OffsetRuns {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: OffsetRuns = [];
  for (const [lo, hi] of all) {
    const last = out.at(-1);
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

async function readLedger(dir: string, schema: EventSchema): Promise<Ledger | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(offsetsDir(dir, schema), 'ledger.json'), 'utf8')) as Ledger;
    return parsed.version === 1 && parsed.folders && parsed.runs ? parsed : undefined;
  } catch {
    return undefined; // none yet, or unreadable: rebuilt from the files
  }
}

/** Temp then rename; an archive the reconcile may not write to is read whole each time instead. */
async function writeLedger(dir: string, schema: EventSchema, ledger: Ledger): Promise<void> {
  const folder = offsetsDir(dir, schema), tmp = join(folder, `.ledger-${randomUUID()}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(tmp, JSON.stringify(ledger));
    await rename(tmp, join(folder, 'ledger.json'));
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}
