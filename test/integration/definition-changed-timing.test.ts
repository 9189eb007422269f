import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { backfillDay, DefinitionChangedError, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// `reconcile --date D --allowed-lateness 5m` of a day streamed with the pipeline's own L (30m in its
// definitions file): B and L are part of the version, so the day is refused. The refusal said "the
// definitions give <v>" and to recompute the day under them, as if the definition had changed; it was the
// flag (or CONCORD_ALLOWED_LATENESS in a job worker's environment). It now says so and to leave it out.
// The suggested backfill names the --archive it needs (it could not be run as written).
const { ws, schemas, backends } = storeBackends();
const own = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 30 * 60_000 });
const flagged = withTiming(own, { allowedLateness: 5 * 60_000 });
const lines = Array.from({ length: 5 }, (_, m) => JSON.stringify({ event_id: `e${m}`, ts: T0 + m * 60_000, url: '/a', visitor_id: 'v' }));

describe.each(backends)('a day refused for B and L given on the command line: $name', ({ url }) => {
  const stores: { close(): Promise<void> }[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  it('reconcile and backfill name the override, not a changed definition; without one they name the runnable backfill', async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('dc27') });
    stores.push(store);
    await store.writeRealtime((await streamLines(own, lines)).changelog);
    const archiveDir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(archiveDir, own.schema).write(memoryBatches('file:day.jsonl', lines, 1000));
    const req = { date: DAY, store, archiveDir, jobId: 'r1', ownVersion: definitionVersion(own) };
    const override = `The definitions file's own B and L give ${definitionVersion(own)}, the stored rows' version: ` +
      '--max-out-of-orderness / --allowed-lateness (or CONCORD_MAX_OUT_OF_ORDERNESS / CONCORD_ALLOWED_LATENESS, --config) made the other; leave them out';
    const refused = await reconcileDay({ ...req, def: flagged }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DefinitionChangedError);
    expect((refused as Error).message).toBe(`${own.name} ${DAY}: the stream's rows were computed by definition version ${definitionVersion(own)} (5 rows), ` +
      `the definitions give ${definitionVersion(flagged)}: reconcile compares a day with the definition that computed it. ${override}`);
    expect(await reconcileDay({ ...req, def: own })).toMatchObject({ status: 'published' });
    await store.markDirty(own.name, [{ day: DAY, windowStart: T0, key: { url: '/a' } }], 'late_after_reconcile');
    await expect(backfillDay({ ...req, def: flagged })).rejects.toThrow(override);
    // A changed definition (not the timing): the backfill that recomputes the day, runnable as written.
    const changed = { ...own, where: [{ field: 'url', op: '!=' as const, value: '/b' }] };
    await expect(backfillDay({ ...req, def: changed, ownVersion: definitionVersion(changed) })).rejects.toThrow(`\`concord backfill --from ${DAY} --to ${DAY} --pipeline ${own.name} --archive ${archiveDir}\``);
  });
});
