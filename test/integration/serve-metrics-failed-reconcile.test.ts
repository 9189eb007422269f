import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { DayReconciliation } from '../../reconcile/day-report.ts';
import { CAUSES, type Cause } from '../../reconcile/reconcile.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { FARES, ridesRegistry } from '../fixtures/rides-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A day whose only reconciliation failed (unexplained differences: nothing published) is `provisional`
// in /api/days (the stream's numbers are live) with its reconciliation `failed_unexplained`; the metrics
// counted it under `provisional` alone, as a day not yet reconciled: a Grafana panel could not tell it
// from a day the nightly run will still do. concord_store_days_reconcile_failed counts such days (and a
// reconciled day whose latest rerun failed), beside their status, as /api/days says them.
const ws = tempWorkspace('concord-serve-failed-reconcile-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const DAYS = ['2026-12-01', '2026-12-02', '2026-12-03'] as const;
const WINDOW = 15 * 60_000;

const backends = [
  { name: 'embedded DuckDB', url: `duckdb:${join(ws.dir, 'store.duckdb')}`, schema: undefined as string | undefined },
  { name: 'PostgreSQL', url: PG_URL, schema: schemas.next('storedays') },
];

describe.each(backends)('concord serve on $name: days whose latest reconciliation failed', (b) => {
  it('are counted apart, and keep their status in the metrics as in /api/days', async () => {
    const { registry } = ridesRegistry();
    const def = registry.pipeline(FARES);
    const rows = (day: string, generation: number): WindowResult[] => [0, 1, 2].map((i) => {
      const start = Date.parse(`${day}T00:00:00.000Z`) + i * WINDOW;
      return {
        kind: 'window', pipeline: FARES, windowStart: start, windowEnd: start + WINDOW, key: { city: 'Lisbon' },
        values: { rides: 1 + i + generation, revenue: 1, top_fare: 1, avg_km: 1, drivers: 1 }, revision: 0,
        watermark: generation === 0 ? start + WINDOW : null, definitionVersion: definitionVersion(def),
      };
    });
    const rec = (date: string, failed: boolean, at: string): DayReconciliation => ({
      date, pipeline: FARES, generation: failed ? null : 1, previous_generation: failed ? -1 : 0,
      status: failed ? 'failed_unexplained' : 'published', day_status: 'provisional', reconciled_at: at, job_id: `test:${date}:${at}`, corrections: 0,
      report: {
        pipeline: FARES, definition_version: definitionVersion(def), max_out_of_orderness: '30s', allowed_lateness: '5m', cells: 3, equal: failed ? 2 : 3,
        different: failed ? 1 : 0, causes: Object.fromEntries(CAUSES.map((c) => [c, c === 'unexplained' && failed ? 1 : 0])) as Record<Cause, number>, unexplained: failed ? 1 : 0, late_events: 0,
        metrics: { realtime_cells: 3, replay_cells: 3, mismatched: failed ? 1 : 0, missing: 0, extra: 0, mismatch_rate: failed ? 1 / 3 : 0, smape: 0 },
        evidence: { duplicates: 0, dead_letters: 0, archive_gaps: 0 }, differences: [],
      },
    });
    const store = await openStore(b.url, { registry, ...(b.schema ? { schema: b.schema } : {}) });
    try {
      for (const day of DAYS) await store.writeRealtime(rows(day, 0));
      await store.setWatermark(FARES, Date.parse(`${DAYS[2]}T01:00:00.000Z`));
      // The first day: reconciled (version 1 live), then a rerun that failed.
      await store.publishDay(FARES, DAYS[0], rows(DAYS[0], 1), { jobId: 'test:ok', provenance: 'reconciled' });
      await store.saveReconciliation(rec(DAYS[0], false, `${DAYS[0]}T23:50:00.000Z`));
      await new Promise((resolve) => setTimeout(resolve, 5)); // stored in order of the wall clock (ms)
      await store.saveReconciliation(rec(DAYS[0], true, `${DAYS[0]}T23:55:00.000Z`));
      // The second: its only reconciliation failed. The third: never reconciled.
      await store.saveReconciliation(rec(DAYS[1], true, `${DAYS[1]}T23:55:00.000Z`));
    } finally {
      await store.close();
    }
    const reader = await openStoreReader(b.url, { registry, ...(b.schema ? { schema: b.schema } : {}) });
    const server = await buildServer({ registry, reader, log: createLogger('silent'), metricsCacheMs: 0 });
    try {
      const days = (await server.app.inject(`/api/days?from=${DAYS[0]}&to=${DAYS[2]}`)).json() as { days: { date: string; pipelines: { pipeline: string; status: string; reconciliation: { status: string } | null }[] }[] };
      const api = days.days.flatMap((d) => d.pipelines.filter((p) => p.pipeline === FARES).map((p) => ({ date: d.date, status: p.status, failed: p.reconciliation?.status === 'failed_unexplained' })));
      expect(api.sort((x, y) => (x.date < y.date ? -1 : 1))).toEqual([
        { date: DAYS[0], status: 'reconciled', failed: true },
        { date: DAYS[1], status: 'provisional', failed: true },
        { date: DAYS[2], status: 'provisional', failed: false },
      ]);
      const metrics = (await server.app.inject('/metrics')).body;
      const sample = (series: string) => {
        const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
        return line === undefined ? undefined : Number(line.slice(series.length + 1));
      };
      for (const status of ['provisional', 'reconciled', 'sealed']) {
        expect(sample(`concord_store_days{pipeline="${FARES}",status="${status}"}`), status).toBe(api.filter((d) => d.status === status).length);
      }
      expect(sample(`concord_store_days_reconcile_failed{pipeline="${FARES}"}`)).toBe(api.filter((d) => d.failed).length);
      expect(sample('concord_store_days_reconcile_failed{pipeline="driver_burst"}')).toBe(0);
    } finally {
      await server.close();
    }
  });
});
