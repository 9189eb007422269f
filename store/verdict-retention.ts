/**
 * The retention of the stream's verdicts on events (event-verdicts.ts: `quarantined_events`,
 * `rejected_events`). They are kept per input schema, not per pipeline, and read by reconcile by the
 * event's own time (`event_ts`), so they go by the UTC day of that time: a verdict on an event of day D
 * goes once D is past the retention of every pipeline reading the schema (D sealed and older than
 * keepDays by that pipeline's watermark, store-retention.ts), the point from which no reconcile of any of
 * them reads it. Pipelines without a watermark in the store hold nothing here and are not asked.
 */
import type { Registry } from '../pipeline/registry.ts';
import { isSealed, windowOf } from './day-status.ts';
import type { SqlDriver } from './sql-driver.ts';
import { oldestKept, type RetentionPolicy } from './store-retention.ts';

const DAY = 86_400_000;

export const VERDICT_TABLES = ['quarantined_events', 'rejected_events'] as const;

/** One input schema's verdicts a prune deletes: those on events before the day `before`; rows per table. */
export interface PruneVerdicts {
  schema: string;
  /** The first day kept (YYYY-MM-DD): verdicts on events of earlier days go. */
  before: string;
  rows: Partial<Record<(typeof VERDICT_TABLES)[number], number>>;
}

export class VerdictRetention {
  constructor(private readonly schema: string, private readonly registry: Registry, private readonly sealDelayMs: number) {}

  /** The input schemas of `pipelines` (default: every pipeline holding a watermark) with verdicts to delete, by name. */
  async plan(db: SqlDriver, policy: RetentionPolicy, pipelines?: readonly string[]): Promise<PruneVerdicts[]> {
    if (policy.keepDays === undefined) return [];
    const held = await this.watermarks(db);
    const schemas = new Set(this.registry.pipelines.filter((p) => held.has(p.name) && (pipelines === undefined || pipelines.includes(p.name))).map((p) => p.schema.name));
    const out: PruneVerdicts[] = [];
    for (const schema of [...schemas].sort()) {
      const v = await this.schemaPlan(db, policy.keepDays, held, schema);
      if (v) out.push(v);
    }
    return out;
  }

  /** Deletes one schema's part inside the caller's transaction, decided again on what it sees; null when nothing is left to. */
  async prune(tx: SqlDriver, policy: RetentionPolicy, schema: string): Promise<PruneVerdicts | null> {
    if (policy.keepDays === undefined) return null;
    const again = await this.schemaPlan(tx, policy.keepDays, await this.watermarks(tx), schema);
    if (!again) return null;
    const done: PruneVerdicts = { ...again, rows: {} };
    for (const t of VERDICT_TABLES) {
      done.rows[t] = await tx.execute(`DELETE FROM ${this.schema}.${t} WHERE schema_name = $1 AND event_ts < $2`, [schema, Date.parse(again.before)]);
    }
    return done;
  }

  /** What goes of `schema`'s verdicts: null when nothing. */
  private async schemaPlan(db: SqlDriver, keepDays: number, held: ReadonlyMap<string, number>, schema: string): Promise<PruneVerdicts | null> {
    const kept = this.registry.pipelinesOf(schema).filter((p) => Number.isFinite(held.get(p.name))).map((p) => this.firstKept(p.name, held.get(p.name)!, keepDays));
    if (kept.length === 0) return null;
    const before = kept.sort()[0]!;
    const rows: PruneVerdicts['rows'] = {};
    for (const t of VERDICT_TABLES) {
      const [r] = await db.query(`SELECT count(*) AS n FROM ${this.schema}.${t} WHERE schema_name = $1 AND event_ts < $2`, [schema, Date.parse(before)]);
      rows[t] = Number(r?.n ?? 0);
    }
    return Object.values(rows).some((n) => n > 0) ? { schema, before, rows } : null;
  }

  /**
   * The first day a pipeline keeps at watermark `w`: the days before it are sealed and older than keepDays
   * (the ones store-retention.ts deletes whole). Sealing moves with the day, so the first not sealed is
   * found stepping back from W's day (a few steps: the seal delay and the last window's reach).
   */
  private firstKept(pipeline: string, w: number, keepDays: number): string {
    const window = windowOf(this.registry, pipeline);
    let first = Math.floor(w / DAY) * DAY;
    while (!isSealed(iso(first - DAY), w, this.sealDelayMs, window)) first -= DAY;
    const byAge = oldestKept(w, keepDays);
    return iso(first) < byAge ? iso(first) : byAge;
  }

  private async watermarks(db: SqlDriver): Promise<Map<string, number>> {
    const rows = await db.query(`SELECT pipeline, watermark FROM ${this.schema}.watermarks`);
    return new Map(rows.map((r) => [String(r.pipeline), Number(r.watermark)]));
  }
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** One line per schema, e.g. `input schema clicks: verdicts on events before 2026-11-21; 3 rows (quarantined_events 2, rejected_events 1)`. */
export function describeVerdicts(verdicts: readonly PruneVerdicts[]): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  return verdicts.map((v) => {
    const total = Object.values(v.rows).reduce((a, b) => a + b, 0);
    const tables = Object.entries(v.rows).filter(([, x]) => x > 0).map(([t, x]) => `${t} ${n(x)}`).join(', ');
    return `input schema ${v.schema}: verdicts on events before ${v.before}; ${n(total)} rows (${tables})`;
  });
}
