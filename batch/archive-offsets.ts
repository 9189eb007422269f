import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSchema } from '../schemas/schema.ts';
import { offsetsDir, RACY_LISTING_MS, schemaDir } from './archive-layout.ts';
import { quoteIdent, quoteString, type DuckDb } from './duckdb.ts';
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

interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
  /** Its events per source (a file is never changed, so read once with its offsets). */
  spans?: Record<string, FileSpan>;
}

/**
 * A file's events of one source: `[first offset, last offset, earliest event time, latest event time,
 * disorder]` (ms), disorder: the most an event's time lies behind the latest of the file's events at
 * smaller offsets (0 for a single event).
 */
export type FileSpan = [number, number, number, number, number];

/** What bringing the ledger up to date did: the runs, and the files it read (by path). */
export interface LedgerUpdate {
  runs: Map<string, OffsetRuns>;
  read: string[];
  /** Each file's spans by path (batch/late-candidate-files.ts), undefined if one file's are unknown. */
  spans: Map<string, Record<string, FileSpan>> | undefined;
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
        else if (stamp.spans) files[name]!.spans = stamp.spans;
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
  const fresh = await runsOfFiles(db, read, `regexp_extract(_archive_file, '(dt=[^/]*)/hour=[^/]*/[^/]*$', 1)`);
  for (const [day, bySource] of fresh) {
    const part = next.days[day];
    if (!part) continue; // cannot be: every file read is of a listed day
    const runs = { ...part.runs };
    for (const [source, list] of bySource) runs[source] = encodeRuns(mergeRuns(decodeRuns(runs[source]) ?? [], list));
    part.runs = runs;
  }
  // Files whose spans are not known yet (a ledger written before it kept them): read for them once.
  const unsummarised = [...filesOf(next, root)].filter(([path, stamp]) => !hasSpans(stamp) && !read.includes(path)).map(([path]) => path);
  await addSpans(db, schema, next, root, [...read, ...unsummarised]);
  const text = JSON.stringify(next);
  if (text !== oldText) await writeLedger(dir, schema, text);
  return { runs: unionOfDays(next), read, spans: spansOf(next, root) };
}
/** The spans of the files `read` into their stamps; left unknown if the read fails (e.g. a file without the time column). */
async function addSpans(db: DuckDb, schema: EventSchema, ledger: Ledger, root: string, read: readonly string[]): Promise<void> {
  if (read.length === 0) return;
  const ts = `epoch_ms(${quoteIdent(schema.timeField)})`;
  const c = await db.columns(`SELECT f, s, min(o) AS a, max(o) AS b, min(t) AS t0, max(t) AS t1, count(*) - count(t) AS untimed, coalesce(max(before - t), 0) AS disorder FROM (
      SELECT _archive_file AS f, _source AS s, _offset AS o, ${ts} AS t,
        max(${ts}) OVER (PARTITION BY _archive_file, _source ORDER BY _offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
      FROM read_parquet([${read.map(quoteString).join(', ')}], hive_partitioning = false, filename = '_archive_file'))
    GROUP BY f, s`).catch(() => undefined);
  if (!c) return;
  const byPath = new Map<string, Record<string, FileSpan>>(read.map((f) => [f, {}]));
  (c.f ?? []).forEach((f, i) => {
    // Events without a time: the file is not summarised (judged by the whole scan).
    const path = String(f), spans = byPath.get(path);
    if (Number(c.untimed![i]) > 0) byPath.delete(path);
    else if (spans) spans[String(c.s![i])] = [Number(c.a![i]), Number(c.b![i]), Number(c.t0![i]), Number(c.t1![i]), Math.max(0, Number(c.disorder![i]))];
  });
  for (const [path, stamp] of filesOf(ledger, root)) {
    const spans = byPath.get(path);
    if (spans) stamp.spans = spans;
  }
}

/** Every file's spans by path, or undefined when some file's are unknown. */
function spansOf(ledger: Ledger, root: string): Map<string, Record<string, FileSpan>> | undefined {
  const out = new Map<string, Record<string, FileSpan>>();
  for (const [path, stamp] of filesOf(ledger, root)) {
    if (!hasSpans(stamp)) return undefined;
    out.set(path, stamp.spans);
  }
  return out;
}

function* filesOf(ledger: Ledger, root: string): Generator<[string, FileStamp]> {
  for (const [day, part] of Object.entries(ledger.days)) {
    for (const [hour, h] of Object.entries(part.hours)) {
      for (const [name, stamp] of Object.entries(h.files)) yield [join(root, day, hour, name), stamp];
    }
  }
}

const hasSpans = (stamp: FileStamp): stamp is FileStamp & { spans: Record<string, FileSpan> } => isRecord(stamp.spans) && Object.values(stamp.spans).every(isSpan);

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

const isSpan = (v: unknown): v is FileSpan => Array.isArray(v) && v.length === 5 && v.every((n) => Number.isSafeInteger(n));

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
