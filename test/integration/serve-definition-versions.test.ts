import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { Registry } from '../../pipeline/registry.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A day reconciled under one definition, then recomputed whole under a changed one (`backfill --from D
// --to D`): `/api/days/D` listed versions 0, 1, 2 without a word of which definition computed which, and
// `/compare` of 1 and 2 matched cells by window start and key across the two definitions (a 1-minute cell
// beside a 5-minute one, "differs") without saying so.
const { schemas, backends } = storeBackends();
const A = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const B = withTiming(A, { allowedLateness: 60_000 });
const lines = Array.from({ length: 6 }, (_, m) => JSON.stringify({ event_id: `e${m}`, ts: T0 + m * 60_000, url: '/a', visitor_id: 'v' }));

describe.each(backends)('serve: which definition computed each version of a day: $name', ({ url }) => {
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => { for (const c of closers) await c().catch(() => undefined); });

  it('/api/days/D names each version\'s definition versions; /compare across two definitions says so', async () => {
    const schema = schemas.next('dc27'), at = url();
    const store = await openStore(at, { registry: seedRegistry(), schema });
    const a = await streamLines(A, lines);
    await store.writeRealtime(a.changelog);
    await store.publishDay(A.name, DAY, a.final, { jobId: 'reconcile', provenance: 'reconciled' });
    await store.publishDay(A.name, DAY, (await streamLines(B, lines)).final, { jobId: 'recompute', provenance: 'reconciled' });
    await store.close();
    const registry = new Registry([B.schema], [B], 'changed');
    const reader = await openStoreReader(at, { registry, schema });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    closers.push(() => server.close());
    const get = async (path: string) => (await server.app.inject({ method: 'GET', url: path })).json() as Record<string, any>;
    const day = (await get(`/api/days/${DAY}`)).pipelines.find((p: any) => p.pipeline === A.name);
    expect(day.versions.map((v: any) => [v.version, v.definition_versions])).toEqual([
      [0, { [definitionVersion(A)]: 6 }], [1, { [definitionVersion(A)]: 6 }], [2, { [definitionVersion(B)]: 6 }],
    ]);
    const across = await get(`/api/days/${DAY}/pipelines/${A.name}/compare?from_version=1&to_version=2&only=all`);
    expect(across).toMatchObject({ from_definition_versions: { [definitionVersion(A)]: 6 }, to_definition_versions: { [definitionVersion(B)]: 6 } });
    expect(across.note).toBe('versions 1 and 2 were computed by different definitions: cells are matched by window start and key, so a changed window or aggregate compares unlike cells');
    const same = await get(`/api/days/${DAY}/pipelines/${A.name}/compare?from_version=0&to_version=1`);
    expect(same.note).toBeUndefined();
  });

  // Walked 2026-12-07: a pipeline added on day 2 and backfilled into day 1 (`backfill --from D --to D`), and
  // a day streamed under the definition before a change; the report's 404 said to run `concord reconcile
  // --date D`, which refuses both (no realtime rows; rows of another definition), exit 2.
  it('/report of a day without a reconciliation: a hint that runs, for a backfilled day and a day of another definition', async () => {
    const schema = schemas.next('dc28'), at = url();
    const store = await openStore(at, { registry: seedRegistry(), schema });
    await store.publishDay(B.name, DAY, (await streamLines(B, lines)).final, { jobId: 'backfill', provenance: 'reconciled' });
    const dayBefore = new Date(Date.parse(`${DAY}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    const before = lines.map((l) => JSON.stringify({ ...JSON.parse(l), ts: JSON.parse(l).ts - 86_400_000 }));
    await store.writeRealtime((await streamLines(A, before)).changelog);
    await store.close();
    const registry = new Registry([B.schema], [B], 'changed');
    const reader = await openStoreReader(at, { registry, schema });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    closers.push(() => server.close());
    const get = async (path: string) => (await server.app.inject({ method: 'GET', url: path })).json() as Record<string, any>;
    const backfilled = await get(`/api/days/${DAY}/pipelines/${B.name}/report`);
    expect(backfilled.error).toBe(`${B.name} has no reconciliation of ${DAY}`);
    expect(backfilled.hint).toBe(`the stream wrote no rows of ${DAY} for ${B.name} (a pipeline added after that day?): its rows were recomputed from the archive, and there are no realtime numbers to reconcile`);
    const older = await get(`/api/days/${dayBefore}/pipelines/${B.name}/report`);
    expect(older.hint).toBe(`the stream's rows of ${dayBefore} were computed by definition version ${definitionVersion(A)}, the definitions served compute ${definitionVersion(B)}: ` +
      `run \`concord reconcile --date ${dayBefore} --pipeline ${B.name} --archive DIR\` with the definitions of ${definitionVersion(A)}, or recompute the day under these with \`concord backfill --from ${dayBefore} --to ${dayBefore} --pipeline ${B.name} --archive DIR\``);
  });
});
