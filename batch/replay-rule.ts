import { definitionVersion, type RulePipeline } from '../pipeline/definition.ts';
import { compareValues } from '../pipeline/ordering.ts';
import { presentValue, unitScale, type FieldValue } from '../schemas/schema.ts';
import type { AlertResult } from '../schemas/results.ts';
import type { DuckDb } from './duckdb.ts';
import { keyFromSql } from './replay-records.ts';
import { ruleSql } from './replay-sql.ts';

/** A rule's alerts over `source`, ordered by time, then id. */
export async function replayRule(db: DuckDb, def: RulePipeline, source: string): Promise<AlertResult[]> {
  const version = definitionVersion(def);
  const field = def.rule.field === undefined ? undefined : def.schema.fields[def.rule.field];
  const keyDef = def.schema.fields[def.key];
  const cols = await db.columns(ruleSql(def, source));
  const out: AlertResult[] = [];
  const ks = cols.k ?? [];
  for (let r = 0; r < ks.length; r++) {
    const m = Number(cols.m![r]);
    const value = def.rule.measure === 'distinct'
      ? (cols.vals![r] as FieldValue[]).map((v) => (typeof v === 'bigint' ? Number(v) : v)).sort(compareValues).map((v) => presentValue(field, v))
      : m / unitScale(field);
    out.push({
      kind: 'alert', pipeline: def.name, key: { [def.key]: keyFromSql(keyDef, ks[r]) }, idField: def.schema.idField,
      id: String(cols.id![r]), ts: Number(cols.ts![r]), output: def.rule.output, value,
      late: false, watermark: null, definitionVersion: version,
    });
  }
  out.sort((a, b) => a.ts - b.ts || compareValues(a.id, b.id));
  return out;
}
