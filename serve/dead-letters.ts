import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { rejectedDir } from '../batch/archive-layout.ts';
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

/**
 * The dead letters: rejected records live next to the archive (`<archive>/<schema>/_rejected/*.jsonl`,
 * written by `concord archive`), not in the store. Served when `concord serve --archive DIR` is given;
 * line counts are cached per file (by size and mtime), so a count reads each file once.
 */
export class DeadLetters {
  readonly archive: string | undefined;
  private readonly registry: Registry;
  private readonly counted = new Map<string, { stamp: string; lines: number }>();

  constructor(registry: Registry, archive: string | undefined) {
    this.registry = registry;
    this.archive = archive;
  }

  private async files(schema: string): Promise<string[]> {
    if (this.archive === undefined) return [];
    const dir = rejectedDir(this.archive, this.registry.schema(schema));
    const names = await readdir(dir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(dir, n));
  }

  /** Rejected records per schema of the definitions (undefined without an archive). */
  async counts(): Promise<Map<string, number> | undefined> {
    if (this.archive === undefined) return undefined;
    const out = new Map<string, number>();
    for (const schema of this.registry.schemas.keys()) {
      let n = 0;
      for (const file of await this.files(schema)) n += await this.lines(file);
      out.set(schema, n);
    }
    return out;
  }

  private async lines(file: string): Promise<number> {
    const s = await stat(file).catch(() => undefined);
    if (!s) return 0;
    const stamp = `${s.size}:${s.mtimeMs}`;
    const cached = this.counted.get(file);
    if (cached?.stamp === stamp) return cached.lines;
    let lines = 0;
    for await (const chunk of createReadStream(file)) {
      for (const byte of chunk as Buffer) if (byte === 10) lines++;
    }
    this.counted.set(file, { stamp, lines });
    return lines;
  }

  /** A page of one schema's rejected records, in file then line order. */
  async page(schema: string, offset: number, limit: number): Promise<DeadLetterRow[]> {
    const out: DeadLetterRow[] = [];
    let skip = offset;
    for (const file of await this.files(schema)) {
      const input = createReadStream(file);
      const lines = createInterface({ input, crlfDelay: Infinity });
      try {
        for await (const line of lines) {
          if (line.trim() === '') continue;
          if (skip > 0) { skip--; continue; }
          out.push(toRow(schema, line));
          if (out.length >= limit) return out;
        }
      } finally {
        // Closing the readline interface leaves its file open: a page that stopped mid-file kept one
        // descriptor for good (a dashboard polling dead letters ran serve out of descriptors in days).
        lines.close();
        input.destroy();
      }
    }
    return out;
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
