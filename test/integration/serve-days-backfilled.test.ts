import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { DAY, P, storeBackends, win } from '../fixtures/result-store.ts';

// Walked 2026-12-07: a pipeline added to the definitions later and backfilled into an old day
// (`backfill --from D --to D`: a recomputed version 1, no stream row of D). `/api/days` listed versions
// [0, 1] for D, version 0 being the stream's own numbers, which never existed: a Grafana panel reading
// the list offered an empty "realtime" version, read as zeros.
const { schemas, backends } = storeBackends();
const NEXT = '2026-11-24';

describe.each(backends)('serve: the versions of a day the stream never wrote: $name', ({ url }) => {
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => { for (const c of closers) await c().catch(() => undefined); });

  it('lists no version 0 for a backfilled day (reconciled, its recomputed version live); a streamed day keeps it', async () => {
    const registry = seedRegistry();
    const schema = schemas.next('daysv0_backfilled'), at = url();
    const store = await openStore(at, { registry, schema });
    await store.publishDay(P, DAY, [win(0, '/a', 3), win(1, '/a', 5)], { jobId: 'backfill', provenance: 'reconciled' });
    // The stream runs from the next day on.
    await store.writeRealtime([win(24 * 60, '/a', 2)]);
    await store.setWatermark(P, Date.parse(`${NEXT}T10:05:00Z`));
    await store.close();
    const server = await buildServer({ registry, reader: await openStoreReader(at, { registry, schema }), log: createLogger('silent') });
    closers.push(() => server.close());
    const get = async (path: string) => (await server.app.inject(path)).json();

    const listed = await get(`/api/days?from=${DAY}&to=${NEXT}`);
    const of = (date: string) => listed.days.find((d: { date: string }) => d.date === date)?.pipelines.find((p: { pipeline: string }) => p.pipeline === P);
    expect(of(DAY)).toMatchObject({ status: 'reconciled', live_version: 1, versions: [1] });
    expect(of(NEXT)).toMatchObject({ status: 'provisional', live_version: 0, versions: [0] });

    const page = (await get(`/api/days/${DAY}`)).pipelines.find((p: { pipeline: string }) => p.pipeline === P);
    expect(page).toMatchObject({ status: 'reconciled', live_version: 1, empty: false });
    expect(page.versions.map((v: { version: number; kind: string; live: boolean }) => [v.version, v.kind, v.live])).toEqual([[1, 'reconciled', true]]);

    // /compare's default (realtime against live) names the versions there are, not an empty comparison.
    const compare = await server.app.inject(`/api/days/${DAY}/pipelines/${P}/compare`);
    expect(compare.statusCode).toBe(404);
    expect(compare.json()).toMatchObject({ parameter: 'from_version', hint: `its versions: 1 (GET /api/days/${DAY} lists them)` });
    expect(compare.json().error).toContain(`${P} ${DAY} has no version 0: the stream never wrote the day`);
    expect((await get(`/api/days/${DAY}/pipelines/${P}/compare?from_version=1&to_version=live`)).rows).toEqual([]);

    // A range read of the stream's version says the day has none, and the live read names version 1.
    const range = `from=${DAY}T00:00:00Z&to=${NEXT}T23:59:59Z`;
    const realtime = await get(`/api/pipelines/${P}/windows?${range}&version=realtime`);
    expect(realtime.days.map((d: { date: string; version: number | null }) => [d.date, d.version])).toEqual([[DAY, null], [NEXT, 0]]);
    const live = await get(`/api/pipelines/${P}/windows?${range}`);
    expect(live.days.map((d: { date: string; version: number | null }) => [d.date, d.version])).toEqual([[DAY, 1], [NEXT, 0]]);
    expect(live.rows.map((r: { values: { views: number } }) => r.values.views)).toEqual([3, 5, 2]);
  });

  // The default range ended at the stream's newest window: a day backfilled past it (the stream has not
  // reached it) was not listed, so the dashboard's date picker never offered it.
  it('the default range reaches a day backfilled past the stream\'s newest rows', async () => {
    const registry = seedRegistry();
    const schema = schemas.next('daysv0_ahead'), at = url();
    const store = await openStore(at, { registry, schema });
    await store.writeRealtime([win(0, '/a', 2)]);
    await store.setWatermark(P, Date.parse(`${DAY}T10:05:00Z`));
    await store.publishDay(P, NEXT, [win(24 * 60, '/a', 4)], { jobId: 'backfill', provenance: 'reconciled' });
    await store.close();
    const server = await buildServer({ registry, reader: await openStoreReader(at, { registry, schema }), log: createLogger('silent'), now: () => Date.parse('2027-06-01T00:00:00Z') });
    closers.push(() => server.close());
    const listed = (await server.app.inject('/api/days')).json();
    expect(listed.to).toBe(NEXT);
    expect(listed.days.map((d: { date: string }) => d.date)).toEqual([NEXT, DAY]);
    expect(listed.days[0].pipelines.find((p: { pipeline: string }) => p.pipeline === P)).toMatchObject({ stream_reached: false, live_version: 1, versions: [1] });
  });
});
