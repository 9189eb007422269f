import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { readArchiveRecovering } from '../batch/archive-recovery.ts';
import { tolerantScan } from '../batch/archive-columns.ts';
import { ArchiveHours } from '../batch/archive-hours.ts';
import { DuckDb, quoteIdent, quoteString } from '../batch/duckdb.ts';
import { keyValueSql, timeExpr, whereSql } from '../batch/replay-sql.ts';
import type { RulePipeline } from '../pipeline/definition.ts';
import { keyValuesOf } from '../pipeline/keys.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import type { ArchiveCell } from './archive-changes.ts';
import { dayRange } from './day-range.ts';
import { lastBeforeDay } from './rule-day-reach.ts';

const HOUR = 3_600_000;

export interface RuleArchiveChanges {
  /** The files written after `since` that can change the day's alerts, with their modification times. */
  readonly written: { path: string; mtimeMs: number }[];
  /** The day's keys to redo (`windowStart`: the day's start). */
  readonly cells: ArchiveCell[];
}

/**
 * Rules: archive files written after `since` that can change `day`'s alerts (docs/semantics.md, "A rule
 * day's reach"). The files of the day and of the two spans before it (`near`, listed by the caller) are
 * decided by listing, as before: a key with an event there in those times is redone. An event older than
 * that, in an older file or the near hour holding `day - 2 span`, matters iff it is kept by `where`, its
 * key has an event in the day, and it is at or after p - span, p the key's last event before the day in
 * the archive now (with the file: an event that became the last one matters too). Only then are files
 * read: the older ones written since, key and time columns; then each of their keys' last event is
 * found by walking back from the day (reaching at worst the file's own hour).
 * `newsOnly`: only which files matter (the near ones without reading them), no cells.
 */
export async function ruleArchiveChangedSince(
  def: RulePipeline, dir: string, day: string, since: number, near: readonly { path: string; mtimeMs: number }[], o: { newsOnly?: boolean } = {},
): Promise<RuleArchiveChanges> {
  const range = dayRange(day);
  const reachFrom = range.from - 2 * def.rule.span;
  const hours = await ArchiveHours.of(dir, def.schema);
  const older: { path: string; mtimeMs: number }[] = [];
  for (const h of await hours.allBefore(Math.floor(reachFrom / HOUR) * HOUR)) {
    for (const path of h.files) {
      const s = await stat(path).catch(() => undefined);
      if (s && s.mtimeMs > since) older.push({ path, mtimeMs: s.mtimeMs });
    }
  }
  const read = o.newsOnly ? older : [...near, ...older];
  if (read.length === 0) return { written: [...near], cells: [] };
  const keyCols = [def.key, def.schema.timeField].filter((n, i, a) => a.indexOf(n) === i);
  const raw = keyCols.map((n) => (def.schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)}) AS ${quoteIdent(n)}` : quoteIdent(n)));
  const ts = timeExpr(def);
  const db = await DuckDb.open(':memory:', { threads: 1 });
  try {
    // A torn file among them is moved to _corrupt/ (where the publish that follows finds and names it), not a failed read.
    return await readArchiveRecovering(def, dir, async () => {
      const left = read.filter((f) => existsSync(f.path));
      if (left.length === 0) return { written: near.filter((f) => existsSync(f.path)), cells: [] };
      // Its own union_by_name read of a few files: optional fields no file has bind too (archive-columns.ts).
      const scan = tolerantScan(`[${left.map((f) => quoteString(f.path)).join(', ')}]`, def.schema, { filename: true });
      await db.run(`CREATE OR REPLACE TEMP TABLE late_events AS SELECT DISTINCT filename, ${raw.join(', ')}, ${keyValueSql(def, def.key)} AS k, ${ts} AS ts,
        ${def.where.length > 0 ? `coalesce(${whereSql(def)}, false)` : 'true'} AS kept FROM ${scan} WHERE filename IS NOT NULL`);
      const cells = new Map<string, ArchiveCell>();
      const mark = (rows: Record<string, unknown[]>) => {
        for (let r = 0; r < (rows.filename?.length ?? 0); r++) {
          const event: AnyEvent = {};
          for (const n of keyCols) {
            const v = rows[n]![r];
            if (v !== null && v !== undefined) event[n] = typeof v === 'bigint' ? Number(v) : (v as string | number);
          }
          const key = keyValuesOf(def.schema, [def.key], event);
          const id = JSON.stringify(Object.values(key));
          if (!cells.has(id)) cells.set(id, { day, windowStart: range.from, key });
        }
      };
      const cols = keyCols.map(quoteIdent).join(', ');
      // Within the two spans or the day: redone by listing (a where-dropped event's key finds nothing changed).
      if (!o.newsOnly) mark(await db.columns(`SELECT filename, ${cols} FROM late_events WHERE ts >= ${reachFrom} AND ts < ${range.to}`));
      const mattering = new Set<string>();
      const early = `SELECT * FROM late_events WHERE kept AND ts < ${reachFrom}`;
      if (Number((await db.rows(`SELECT count(*) AS n FROM (${early})`))[0]!.n) > 0) {
        const k = keyValueSql(def, def.key);
        await db.run(`CREATE OR REPLACE TEMP TABLE late_keys AS SELECT DISTINCT k FROM (${early})`);
        const keysWhere = `(${k} IN (SELECT k FROM late_keys) OR (${k} IS NULL AND EXISTS (SELECT 1 FROM late_keys WHERE k IS NULL)))`;
        await lastBeforeDay(db, def, dir, range, { keysWhere }, hours);
        const found = await db.columns(`SELECT DISTINCT c.filename, ${keyCols.map((n) => `c.${quoteIdent(n)}`).join(', ')} FROM (${early}) c
          JOIN rule_day_last l ON c.k IS NOT DISTINCT FROM l.k WHERE c.ts >= l.ts - ${def.rule.span}`);
        mark(found);
        (found.filename ?? []).forEach((f) => mattering.add(String(f)));
        await db.run('DROP TABLE rule_day_last');
      }
      const written = [...near.filter((f) => existsSync(f.path)), ...older.filter((f) => mattering.has(f.path))];
      return { written, cells: o.newsOnly ? [] : [...cells.values()] };
    }, { db, files: read.map((f) => f.path) });
  } finally {
    db.close();
  }
}
