import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { P, storeBackends } from '../fixtures/result-store.ts';
import { fillRetentionStore, MID, OLD } from '../fixtures/retention-store.ts';

// The API over a store the retention pruned (store/store-retention.ts): the answers about a kept day are
// the same bytes before and after, a pruned day or version is a 404 that says "pruned", never a 500.
const { schemas, backends } = storeBackends();

/** GETs `urls` on a server over the store (opened and closed around them: a DuckDB file has one writer or readers). */
async function answers(url: string, schema: string, urls: readonly string[]): Promise<{ status: number; body: string }[]> {
  const registry = seedRegistry();
  const reader = await openStoreReader(url, { registry, schema });
  const server = await buildServer({ registry, reader, log: createLogger('silent'), now: () => Date.UTC(2026, 10, 27) });
  try {
    const out = [];
    for (const u of urls) {
      const r = await server.app.inject({ method: 'GET', url: u });
      out.push({ status: r.statusCode, body: r.body });
    }
    return out;
  } finally {
    await server.close(); // and its reader
  }
}

const KEPT = [
  `/api/days/${MID}`,
  `/api/days/${MID}/pipelines/${P}/report`,
  `/api/days/${MID}/pipelines/${P}/compare?from_version=0&to_version=4&only=all`,
  `/api/days/${MID}/pipelines/${P}/compare?from_version=3&to_version=live`,
  `/api/pipelines/${P}/windows?date=${MID}`,
  `/api/pipelines/${P}/windows?date=${MID}&version=2`,
  `/api/days?from=${MID}&to=2026-11-23`,
];

describe.each(backends)('serve over a pruned store: $name', ({ url }) => {
  it('a kept day answers byte for byte as before; a pruned day and a pruned version answer 404 "pruned"', async () => {
    const target = url();
    const schema = schemas.next();
    await (await fillRetentionStore(target, schema)).close();
    const before = await answers(target, schema, [...KEPT, `/api/days/${OLD}`]);
    expect(before.map((a) => a.status)).toEqual(KEPT.map(() => 200).concat(200));

    const store = await openStore(target, { registry: seedRegistry(), schema });
    try {
      for (const d of await store.prunePlan({ keepDays: 5 })) await store.pruneDay({ keepDays: 5 }, d.pipeline, d.day);
    } finally {
      await store.close();
    }
    const after = await answers(target, schema, [...KEPT, `/api/days/${OLD}`, `/api/days/${OLD}/pipelines/${P}/report`, `/api/days/${OLD}/pipelines/${P}/compare`]);
    expect(after.slice(0, KEPT.length)).toEqual(before.slice(0, KEPT.length));
    for (const gone of after.slice(KEPT.length)) {
      expect(gone.status).toBe(404);
      expect(JSON.parse(gone.body).error).toMatch(/ was pruned by the store's retention at \d{4}-\d\d-\d\dT/);
    }

    // Versions: MID's version 1 pruned (keepVersions 1); asking for it says so, the others still compare.
    const again = await openStore(target, { registry: seedRegistry(), schema });
    try {
      expect((await again.pruneDay({ keepVersions: 1 }, P, MID))?.versions).toEqual([1]);
    } finally {
      await again.close();
    }
    const [v1, v2, day] = await answers(target, schema, [
      `/api/days/${MID}/pipelines/${P}/compare?from_version=1&to_version=live`, `/api/days/${MID}/pipelines/${P}/compare?from_version=2&to_version=live`, `/api/days/${MID}`]);
    expect(v1!.status).toBe(404);
    expect(JSON.parse(v1!.body)).toMatchObject({ error: `version 1 of ${P} ${MID} was pruned by the store's retention (retentionVersions): its rows are gone`, parameter: 'from_version' });
    expect(v2!.status).toBe(200);
    const versions = JSON.parse(day!.body).pipelines.find((p: { pipeline: string }) => p.pipeline === P).versions;
    expect(versions.map((v: { version: number; status: string }) => [v.version, v.status])).toEqual([[0, 'kept'], [1, 'pruned'], [2, 'kept'], [3, 'kept'], [4, 'live']]);
  });
});
