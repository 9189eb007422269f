import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RACY_LISTING_MS, rejectedDir } from '../batch/archive-layout.ts';
import type { Registry } from '../pipeline/registry.ts';

export interface DeadLetterRow {
  schema: string;
  source: string;
  offset: number;
  field: string | null;
  reason: string;
  /** The rejected line (at most 2,000 characters of it). */
  raw: string;
  truncated: boolean;
}

const RAW_MAX = 2_000;


/** One dead-letter file as indexed: `lines` its newline bytes (the count served), `rows` the non-blank lines a page walks. */
interface IndexedFile {
  readonly path: string;
  readonly stamp: string;
  readonly lines: number;
  readonly rows: number;
}

/** A schema's `_rejected/` as last listed: its files in name order, and the rows before each (for a page to skip to). */
interface Listing {
  readonly dirMtimeNs: bigint;
  /** False when the directory changed too shortly before it was listed to trust an unchanged mtime later (RACY_LISTING_MS). */
  readonly settled: boolean;
  readonly files: readonly IndexedFile[];
  readonly rowsBefore: readonly number[];
}

const EMPTY: Listing = { dirMtimeNs: -1n, settled: false, files: [], rowsBefore: [] };

/**
 * The dead letters: rejected records live next to the archive (`<archive>/<schema>/_rejected/*.jsonl`,
 * written by `concord archive`), not in the store. Served when `concord serve --archive DIR` is given.
 * Each schema's folder is indexed (per file: lines and rows) and the index kept while the folder's mtime
 * stays: a running archiver adds a file per flush, so after days a walk over every file on each call
 * cost a stat per file and, for a deep page, a read of every file before it. Concord's writers only ever
 * add, rename over or remove whole files (`.tmp`, then a rename), each of which changes the folder's mtime;
 * a file edited in place by hand is seen once the folder changes again.
 */
export class DeadLetters {
  readonly archive: string | undefined;
  private readonly registry: Registry;
  private readonly listings = new Map<string, Listing>();
  /** Files read to index them since this was made (what a listing kept from the last one is not read again). */
  filesIndexed = 0;

  constructor(registry: Registry, archive: string | undefined) {
    this.registry = registry;
    this.archive = archive;
  }

  /**
   * Every schema's folder as it is now: the counts, and pages read from these same listings (a call
   * that counts and then pages lists each folder once). undefined without an archive.
   */
  async view(): Promise<DeadLetterView | undefined> {
    if (this.archive === undefined) return undefined;
    const listings = new Map<string, Listing>();
    for (const schema of this.registry.schemas.keys()) listings.set(schema, await this.listing(schema));
    return new DeadLetterView(listings);
  }

  /** Rejected records per schema of the definitions (undefined without an archive). */
  async counts(): Promise<Map<string, number> | undefined> {
    return (await this.view())?.counts;
  }

  /** A page of one schema's rejected records, in file then line order. */
  async page(schema: string, offset: number, limit: number): Promise<DeadLetterRow[]> {
    return new DeadLetterView(new Map([[schema, await this.listing(schema)]])).page(schema, offset, limit);
  }

  /** The schema's listing: the one kept while the folder's mtime holds (and it was settled), else listed again. */
  private async listing(schema: string): Promise<Listing> {
    if (this.archive === undefined) return EMPTY;
    const dir = rejectedDir(this.archive, this.registry.schema(schema));
    const listedAt = Date.now();
    const folder = await stat(dir, { bigint: true }).catch(() => undefined);
    if (folder === undefined) {
      this.listings.delete(schema);
      return EMPTY;
    }
    const kept = this.listings.get(schema);
    if (kept?.settled && kept.dirMtimeNs === folder.mtimeNs) return kept;
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl')).sort();
    const previous = new Map((kept?.files ?? []).map((f) => [f.path, f]));
    const files: IndexedFile[] = [];
    for (const name of names) {
      const file = await this.indexed(join(dir, name), previous.get(join(dir, name)));
      if (file) files.push(file);
    }
    const rowsBefore: number[] = [];
    let rows = 0;
    for (const f of files) {
      rowsBefore.push(rows);
      rows += f.rows;
    }
    const listing = { dirMtimeNs: folder.mtimeNs, settled: listedAt - Number(folder.mtimeNs / 1_000_000n) > RACY_LISTING_MS, files, rowsBefore };
    this.listings.set(schema, listing);
    return listing;
  }

  /** A file's index entry: the previous one while the file is the same (inode, size, mtime), else read. */
  private async indexed(path: string, previous: IndexedFile | undefined): Promise<IndexedFile | undefined> {
    const s = await stat(path).catch(() => undefined);
    if (!s) return undefined; // removed since the folder was read
    const stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (previous?.stamp === stamp) return previous;
    this.filesIndexed++;
    let lines = 0;
    let rows = 0;
    const input = createReadStream(path);
    // Counted as the bytes pass to the line reader: one read gives both numbers.
    input.on('data', (chunk) => {
      for (const byte of chunk as Buffer) if (byte === 10) lines++;
    });
    for await (const line of rowsOf(path, input)) {
      void line;
      rows++;
    }
    return { path, stamp, lines, rows };
  }
}

/** The dead letters as listed at one moment. */
export class DeadLetterView {
  /** Rejected records per schema listed (its files' lines). */
  readonly counts: Map<string, number>;
  private readonly listings: ReadonlyMap<string, Listing>;

  constructor(listings: ReadonlyMap<string, Listing>) {
    this.listings = listings;
    this.counts = new Map([...listings].map(([schema, l]) => [schema, l.files.reduce((n, f) => n + f.lines, 0)]));
  }

  /** A page of one schema's rejected records, in file then line order; the files before the page are not opened. */
  async page(schema: string, offset: number, limit: number): Promise<DeadLetterRow[]> {
    const { files, rowsBefore } = this.listings.get(schema) ?? EMPTY;
    const out: DeadLetterRow[] = [];
    let first = firstFileWithRow(files, rowsBefore, offset);
    let skip = first < files.length ? offset - rowsBefore[first]! : 0;
    for (; first < files.length; first++) {
      for await (const line of rowsOf(files[first]!.path)) {
        if (skip > 0) { skip--; continue; }
        out.push(toRow(schema, line));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}

/** The index of the first file whose rows reach past `offset` (files.length when none does). */
function firstFileWithRow(files: readonly IndexedFile[], rowsBefore: readonly number[], offset: number): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rowsBefore[mid]! + files[mid]!.rows <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The non-blank lines of a dead-letter file, in order; the file is closed however the caller stops. */
async function* rowsOf(path: string, input = createReadStream(path)): AsyncGenerator<string> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line.trim() !== '') yield line;
  } finally {
    // Closing the readline interface leaves its file open: a page that stopped mid-file kept one
    // descriptor for good (a dashboard polling dead letters ran serve out of descriptors in days).
    lines.close();
    input.destroy();
  }
}

function toRow(schema: string, line: string): DeadLetterRow {
  let x: Record<string, unknown> = {};
  try {
    x = JSON.parse(line) as Record<string, unknown>;
  } catch {
    x = { reason: 'unreadable dead-letter line', raw: line };
  }
  const raw = String(x.raw ?? '');
  return {
    schema, source: String(x.source ?? ''), offset: Number(x.offset ?? -1), field: x.field === null || x.field === undefined ? null : String(x.field),
    reason: String(x.reason ?? ''), raw: raw.slice(0, RAW_MAX), truncated: raw.length > RAW_MAX,
  };
}
