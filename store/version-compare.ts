import type { KeyValues } from '../pipeline/keys.ts';
import type { Registry } from '../pipeline/registry.ts';
import { sameValuesOf } from '../pipeline/same-values.ts';
import { sqlRowLimit, type SqlDriver, type SqlValue } from './sql-driver.ts';

/** `differs`: the values are other numbers (a `double` sum's last bits differing is no difference: pipeline/same-values.ts). */
export interface CompareRow { windowStart: number; windowEnd: number | null; cell: string; kind: 'window' | 'alert'; key: KeyValues; a: Record<string, unknown> | null; b: Record<string, unknown> | null; differs: boolean }
export interface CompareOptions { onlyDifferent: boolean; after?: { windowStart: number; cell: string }; limit: number }

const json = (v: unknown): Record<string, unknown> | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as Record<string, unknown>));

/**
 * Two stored versions of a pipeline's day side by side, cell by cell (`concord serve`'s compare), over
 * one snapshot of the store (StoreSnapshot.compare).
 */
export class VersionCompare {
  private readonly q: SqlDriver;
  /** The store's SQL schema. */
  private readonly s: string;
  private readonly registry: Registry;

  constructor(q: SqlDriver, schema: string, registry: Registry) {
    this.q = q;
    this.s = schema;
    this.registry = registry;
  }

  /**
   * Cells of a day in version `a` next to version `b` (full outer join), optionally only those whose values
   * differ. The SQL compares JSON text; rows whose numbers agree within the `double` tolerance are then
   * left out, and further pages read until `limit` rows are found or none are left.
   */
  async compare(pipeline: string, day: string, a: number, b: number, o: CompareOptions): Promise<CompareRow[]> {
    const def = this.registry.pipelines.find((p) => p.name === pipeline);
    // A pipeline the definitions no longer name: its values compare as stored text.
    const same = def ? sameValuesOf(def) : (x: Record<string, unknown>, y: Record<string, unknown>) => JSON.stringify(x) === JSON.stringify(y);
    const out: CompareRow[] = [];
    let after = o.after;
    for (;;) {
      const page = await this.comparePage(pipeline, day, a, b, { ...o, ...(after ? { after } : {}) });
      for (const row of page) {
        row.differs = row.a === null || row.b === null || !same(row.a, row.b);
        if (row.differs || !o.onlyDifferent) out.push(row);
        if (out.length === o.limit) return out;
      }
      if (page.length < o.limit) return out;
      const last = page.at(-1)!;
      after = { windowStart: last.windowStart, cell: last.cell };
    }
  }

  /** One page of `compare` as the SQL finds it (JSON text compared). */
  private async comparePage(pipeline: string, day: string, a: number, b: number, o: CompareOptions): Promise<CompareRow[]> {
    const params: SqlValue[] = [pipeline, day, a, b];
    const where: string[] = [];
    if (o.onlyDifferent) where.push('(x.a_values IS NULL OR x.b_values IS NULL OR x.a_values <> x.b_values)');
    if (o.after) {
      params.push(o.after.windowStart, o.after.cell);
      where.push(`(x.window_start > $5 OR (x.window_start = $5 AND x.cell > $6))`);
    }
    const side = (g: string) => `SELECT window_start, cell, window_end, kind, key_json, values_json FROM ${this.s}.result_rows WHERE pipeline = $1 AND day = $2 AND generation = ${g}`;
    const rows = await this.q.query(
      `SELECT * FROM (
         SELECT coalesce(a.window_start, b.window_start) AS window_start, coalesce(a.cell, b.cell) AS cell, coalesce(a.window_end, b.window_end) AS window_end,
                coalesce(a.kind, b.kind) AS kind, coalesce(a.key_json, b.key_json) AS key_json, a.values_json AS a_values, b.values_json AS b_values
         FROM (${side('$3')}) a FULL OUTER JOIN (${side('$4')}) b ON a.window_start = b.window_start AND a.cell = b.cell) x
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY x.window_start, x.cell LIMIT ${sqlRowLimit(o.limit)}`, params);
    return rows.map((x) => ({
      windowStart: Number(x.window_start), windowEnd: x.window_end === null ? null : Number(x.window_end), cell: String(x.cell),
      kind: x.kind === 'alert' ? 'alert' : 'window', key: JSON.parse(String(x.key_json)) as KeyValues, a: json(x.a_values), b: json(x.b_values), differs: true,
    }));
  }
}
