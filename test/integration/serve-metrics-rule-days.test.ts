import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A rule that raised no alert on a day the stream covered and a reconciliation published: /api/days
// said `reconciled`, but concord_store_days counted the pipeline's days from its newest alert, so it
// listed 0 days in every status (an alert on "days reconciled" never saw the rule's day).
const ws = tempWorkspace('concord-serve-metrics-rule-days-');
afterAll(() => ws.cleanup());
const F = 'fraud_multi_country';
const DATE = '2026-11-23';

describe('concord serve: concord_store_days of a pipeline without rows', () => {
  it('counts the days its watermark reached, as /api/days does', async () => {
    const registry = seedRegistry();
    const url = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const writer = await openStore(url, { registry });
    await writer.setWatermark(F, Date.parse(`${DATE}T12:00:00Z`));
    await writer.publishDay(F, DATE, [], { jobId: 'r1', provenance: 'reconciled' });
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry }), log: createLogger('silent'), metricsCacheMs: 0 });
    try {
      const days = (await server.app.inject('/api/days')).json();
      const said = days.days.flatMap((d: { date: string; pipelines: { pipeline: string; status: string }[] }) => d.pipelines.filter((p) => p.pipeline === F).map((p) => [d.date, p.status]));
      expect(said).toEqual([[DATE, 'reconciled']]);
      const metrics = (await server.app.inject('/metrics')).body;
      const line = (status: string) => metrics.split('\n').find((l) => l.startsWith(`concord_store_days{pipeline="${F}",status="${status}"}`));
      expect(line('reconciled')).toBe(`concord_store_days{pipeline="${F}",status="reconciled"} 1`);
      expect(line('provisional')).toBe(`concord_store_days{pipeline="${F}",status="provisional"} 0`);
    } finally {
      await server.close();
    }
  });

  // Counted from the newest window or watermark only: a day a backfill published past them (the stream
  // has not reached it), or any day of a pipeline no stream wrote, was in no status.
  it('counts a day a backfill published past the stream, and the days of a pipeline no stream wrote', async () => {
    const registry = seedRegistry();
    const url = `duckdb:${join(ws.dir, 'ahead.duckdb')}`;
    const [P, U] = registry.pipelines.filter((p) => p.kind === 'windowed').map((p) => p.name) as [string, string];
    const writer = await openStore(url, { registry });
    await writer.setWatermark(P, Date.parse(`${DATE}T12:00:00Z`));
    await writer.publishDay(P, '2026-11-25', [], { jobId: 'b1', provenance: 'reconciled' });
    await writer.publishDay(U, '2026-10-01', [], { jobId: 'b2', provenance: 'reconciled' });
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry }), log: createLogger('silent'), metricsCacheMs: 0 });
    try {
      const metrics = (await server.app.inject('/metrics')).body;
      const count = (p: string, status: string) => metrics.split('\n').find((l) => l.startsWith(`concord_store_days{pipeline="${p}",status="${status}"}`))?.split(' ')[1];
      expect(count(P, 'reconciled')).toBe('1');
      expect(count(U, 'reconciled')).toBe('1');
    } finally {
      await server.close();
    }
  });
});
