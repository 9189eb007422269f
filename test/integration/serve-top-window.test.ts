import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { definitionVersion, type PipelineDefinition } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// /top?window=<start> answered `to` = the start + 1 ms (the bound of its read on window_start), which a
// user reads as a 1 ms window. The answer names the window's own end; the values stay that one window's.
const ws = tempWorkspace('concord-serve-top-window-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const P = 'views_per_page';
const registry = parseDefinitions({
  schemas: { views: { time: 'ts', id: 'id', key: 'page', fields: { id: 'string', ts: 'timestamp', page: 'string' } } },
  pipelines: { [P]: { input: 'views', key: ['page'], window: { hopping: '10m', every: '5m' }, aggregates: { views: 'count' } } },
}, 'test');
const def = registry.pipelines.find((p) => p.name === P) as PipelineDefinition;
const T0 = Date.UTC(2026, 10, 23, 10);
const MIN = 60_000;

/** Hopping windows of one page, starting every 5 minutes from T0, with these counts. */
function windows(page: string, counts: number[]): WindowResult[] {
  return counts.map((views, i) => ({
    kind: 'window', pipeline: P, windowStart: T0 + i * 5 * MIN, windowEnd: T0 + i * 5 * MIN + 10 * MIN, key: { page }, values: { views },
    revision: 0, watermark: T0 + i * 5 * MIN + 10 * MIN, definitionVersion: definitionVersion(def),
  }));
}

const backends = [
  { name: 'embedded DuckDB', url: () => `duckdb:${join(ws.dir, 'store.duckdb')}`, schema: () => undefined as string | undefined },
  { name: 'PostgreSQL', url: () => PG_URL, schema: () => schemas.next('serve_top_window') as string | undefined },
];

describe.each(backends)('concord serve on $name: /top?window=<start>', (b) => {
  it('answers the window\'s start and end, and only that window\'s values (not its overlapping neighbours\')', async () => {
    const url = b.url();
    const schema = b.schema();
    const writer = await openStore(url, { registry, ...(schema ? { schema } : {}) });
    await writer.writeRealtime([...windows('/a', [3, 40, 500]), ...windows('/b', [7, 1, 2])]);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry, ...(schema ? { schema } : {}) }), log: createLogger('silent') });
    try {
      const r = await server.app.inject(`/api/pipelines/${P}/top?window=2026-11-23T10:05:00Z`);
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json();
      expect(body).toMatchObject({ from: '2026-11-23T10:05:00.000Z', to: '2026-11-23T10:15:00.000Z' });
      expect(body.keys).toEqual([{ key: { page: '/a' }, total: 40, windows: 1 }, { key: { page: '/b' }, total: 1, windows: 1 }]);
      expect(body.days.map((d: { date: string }) => d.date)).toEqual(['2026-11-23']);
      // A range still answers the range it read.
      const range = (await server.app.inject(`/api/pipelines/${P}/top?from=2026-11-23T10:00:00Z&to=2026-11-23T10:10:00Z`)).json();
      expect(range).toMatchObject({ from: '2026-11-23T10:00:00.000Z', to: '2026-11-23T10:10:00.000Z' });
    } finally {
      await server.close();
    }
  });
});
