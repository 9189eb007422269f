import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSchema } from '../schemas/schema.ts';
import { offsetsDir, RACY_LISTING_MS, schemaDir } from './archive-layout.ts';
import type { DuckDb } from './duckdb.ts';
import { decodeRuns, encodeRuns, mergeRuns, runsOfFiles, type OffsetRuns } from './offset-runs.ts';

export type { OffsetRuns } from './offset-runs.ts';

/**
 * The archived offsets of every source, kept in `<schema>/_offsets/ledger.json` so that a day's
 * reconcile reads only the Parquet files written since the last one instead of every offset of the
 * archive (reconcile/evidence.ts: the archive's gaps). Sound because archive files are written whole
 * (temp then rename) and never changed: the ledger records each hour folder's mtime and its files'
 * sizes, mtimes and inodes (a file renamed over another is a new inode, even copied with its mtime); a
 * folder whose mtime is unchanged is not listed again, a changed one is listed and only its new files
 * are read.
 *
 * The runs are kept per day folder (`dt=D`), their union is the archive's: a union cannot have a file
 * taken out, but a day's part can be made again from that day's files alone. So a file removed or
 * changed (moved to `_corrupt/`, a torn flush removed) costs a read of its day, a day folder deleted
 * (retention) costs nothing, instead of a read of every file. Version 1 ledgers (one union for the
 * archive) cannot be split by day: they are rebuilt once from every file.
 */
interface Ledger {
  readonly version: 2;
  days: Record<string, DayPart>;
}

interface DayPart {
  /** Hour folders by `hour=H`: mtime when listed (-1: listed too soon after a change to trust it), files by name. */
  hours: Record<string, { mtimeMs: number; files: Record<string, FileStamp> }>;
  /** The day's files' offsets per source (offset-runs.ts `encodeRuns`). */
  runs: Record<string, number[]>;
}

interface FileStamp { size: number; mtimeMs: number; ino: number }

/** What bringing the ledger up to date did: the runs, and the files it read (by path). */
export interface LedgerUpdate {
  runs: Map<string, OffsetRuns>;
  read: string[];
}

export async function archivedOffsetRuns(dir: string, schema: EventSchema, db: DuckDb): Promise<Map<string, OffsetRuns>> {
  return (await updateOffsetLedger(dir, schema, db)).runs;
}

export async function updateOffsetLedger(dir: string, schema: EventSchema, db: DuckDb): Promise<LedgerUpdate> {
  const root = schemaDir(dir, schema);
  const { ledger: old, text: oldText } = await readLedger(dir, schema);
  const now = Date.now();
  const next: Ledger = { version: 2, days: {} };
  // Per day: the files to read, and whether the day's runs are made again from all its files.
  const toRead = new Map<string, { files: string[]; whole: boolean }>();
  for (const day of (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('dt=')).sort()) {
    const was = old?.days[day];
    const hours: DayPart['hours'] = {};
    const added: string[] = [];
    let whole = !was;
    for (const hour of (await readdir(join(root, day)).catch(() => [] as string[])).filter((n) => n.startsWith('hour=')).sort()) {
      const folder = join(root, day, hour);
      const mtimeMs = (await stat(folder).catch(() => undefined))?.mtimeMs;
      if (mtimeMs === undefined) continue;
      const before = was?.hours[hour];
      if (before && before.mtimeMs === mtimeMs) {
        hours[hour] = before;
        continue;
      }
      const files: Record<string, FileStamp> = {};
      for (const name of (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.parquet')).sort()) {
        const s = await stat(join(folder, name)).catch(() => undefined);
        if (!s) continue;
        files[name] = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
        const stamp = before?.files[name];
        if (!stamp) added.push(join(folder, name));
        else if (stamp.size !== s.size || stamp.mtimeMs !== s.mtimeMs || stamp.ino !== s.ino) whole = true;
      }
      if (before && Object.keys(before.files).some((name) => !(name in files))) whole = true;
      hours[hour] = { mtimeMs: now - mtimeMs < RACY_LISTING_MS ? -1 : mtimeMs, files };
    }
    if (was && Object.keys(was.hours).some((hour) => !(hour in hours))) whole = true;
    next.days[day] = { hours, runs: whole ? {} : was!.runs };
    const files = whole ? Object.entries(hours).flatMap(([hour, h]) => Object.keys(h.files).map((name) => join(root, day, hour, name))) : added;
    if (files.length > 0 || whole) toRead.set(day, { files, whole });
  }
  // Days gone from the archive are simply not carried over: nothing to read.
  const read = [...toRead.values()].flatMap((d) => d.files);
  const fresh = await runsOfFiles(db, read, `regexp_extract(filename, '(dt=[^/]*)/hour=[^/]*/[^/]*$', 1)`);
  for (const [day, bySource] of fresh) {
    const part = next.days[day];
    if (!part) continue; // cannot be: every file read is of a listed day
    const runs = { ...part.runs };
    for (const [source, list] of bySource) runs[source] = encodeRuns(mergeRuns(decodeRuns(runs[source]) ?? [], list));
    part.runs = runs;
  }
  const text = JSON.stringify(next);
  if (text !== oldText) await writeLedger(dir, schema, text);
  return { runs: unionOfDays(next), read };
}

/** The archive's runs per source: the union of its days'. */
function unionOfDays(ledger: Ledger): Map<string, OffsetRuns> {
  const bySource = new Map<string, OffsetRuns[]>();
  for (const part of Object.values(ledger.days)) {
    for (const [source, coded] of Object.entries(part.runs)) {
      let lists = bySource.get(source);
      if (!lists) bySource.set(source, (lists = []));
      lists.push(decodeRuns(coded)!);
    }
  }
  const sources = [...bySource.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map(sources.map((s) => [s, mergeRuns(...bySource.get(s)!)]));
}

async function readLedger(dir: string, schema: EventSchema): Promise<{ ledger?: Ledger; text?: string }> {
  let text: string;
  try {
    text = await readFile(join(offsetsDir(dir, schema), 'ledger.json'), 'utf8');
  } catch {
    return {}; // none yet: built from the files
  }
  try {
    const parsed = JSON.parse(text) as Ledger;
    // Version 1 (one union of runs) or a damaged ledger: rebuilt from the files, once.
    if (parsed.version !== 2 || !isRecord(parsed.days)) return { text };
    for (const part of Object.values(parsed.days)) {
      if (!isRecord(part) || !isRecord(part.hours) || !isRecord(part.runs)) return { text };
      if (Object.values(part.runs).some((coded) => decodeRuns(coded) === undefined)) return { text };
      if (Object.values(part.hours).some((h) => !isRecord(h) || typeof h.mtimeMs !== 'number' || !isRecord(h.files))) return { text };
    }
    return { ledger: parsed, text };
  } catch {
    return { text };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Temp then rename; an archive the reconcile may not write to is read whole each time instead. */
async function writeLedger(dir: string, schema: EventSchema, text: string): Promise<void> {
  const folder = offsetsDir(dir, schema), tmp = join(folder, `.ledger-${randomUUID()}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(tmp, text);
    await rename(tmp, join(folder, 'ledger.json'));
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}
