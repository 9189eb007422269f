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

// /top ranked every aggregate by its windows' values added up: the slowest endpoint by max latency was
// the one with the most windows (a key with 3 windows of max 100 ms ranked above one with a 250 ms max).
// `rank` combines a key's windows as the aggregate needs: max, min, mean, or sum (the default, unchanged).
const ws = tempWorkspace('concord-serve-top-rank-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const P = 'latency_per_endpoint';
const registry = parseDefinitions({
  schemas: { requests: { time: 'ts', id: 'id', key: 'endpoint', fields: { id: 'string', ts: 'timestamp', endpoint: 'string', latency_ms: 'double' } } },
  pipelines: {
    [P]: {
      input: 'requests', key: ['endpoint'], window: { tumbling: '1m' },
      aggregates: { max_ms: ['max', 'latency_ms'], min_ms: ['min', 'latency_ms'], avg_ms: ['avg', 'latency_ms'], requests: 'count' },
    },
  },
}, 'test');
const def = registry.pipelines.find((p) => p.name === P) as PipelineDefinition;
const T0 = Date.UTC(2026, 10, 23, 10);

/** Windows of one endpoint: minute i gets `values[i]`. */
function windows(endpoint: string, values: { max_ms: number; min_ms: number; avg_ms: number; requests: number }[]): WindowResult[] {
  return values.map((v, i) => ({
    kind: 'window', pipeline: P, windowStart: T0 + i * 60_000, windowEnd: T0 + (i + 1) * 60_000, key: { endpoint }, values: v,
    revision: 0, watermark: T0 + (i + 1) * 60_000, definitionVersion: definitionVersion(def),
  }));
}

const backends = [
  { name: 'embedded DuckDB', url: () => `duckdb:${join(ws.dir, 'store.duckdb')}`, schema: () => undefined as string | undefined },
  { name: 'PostgreSQL', url: () => PG_URL, schema: () => schemas.next('serve') as string | undefined },
];

describe.each(backends)('concord serve on $name: /top and /windows?top rank keys by the aggregate\'s own combination', (b) => {
  it('max by the largest window, min by the smallest, mean by the windows\' mean, sum added up', async () => {
    const url = b.url();
    const schema = b.schema();
    const writer = await openStore(url, { registry, ...(schema ? { schema } : {}) });
    // /busy: many ordinary windows; /slow: one window with the slowest request and the fastest one.
    await writer.writeRealtime([
      ...windows('/busy', [0, 1, 2, 3].map(() => ({ max_ms: 100, min_ms: 20, avg_ms: 60, requests: 10 }))),
      ...windows('/slow', [{ max_ms: 250, min_ms: 5, avg_ms: 90, requests: 2 }, { max_ms: 30, min_ms: 25, avg_ms: 28, requests: 1 }]),
    ]);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry, ...(schema ? { schema } : {}) }), log: createLogger('silent') });
    const get = async (path: string) => {
      const r = await server.app.inject(path);
      return { status: r.statusCode, body: r.json() };
    };
    const range = 'from=2026-11-23T10:00:00Z&to=2026-11-23T11:00:00Z';
    const top = async (by: string, rank?: string) => {
      const r = await get(`/api/pipelines/${P}/top?${range}&by=${by}${rank ? `&rank=${rank}` : ''}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };
    const totals = (b: { keys: { key: { endpoint: string }; total: number }[] }) => b.keys.map((k) => [k.key.endpoint, k.total]);
    try {
      expect(totals(await top('max_ms', 'max'))).toEqual([['/slow', 250], ['/busy', 100]]);
      expect((await top('max_ms', 'max')).rank).toBe('max');
      expect(totals(await top('min_ms', 'min'))).toEqual([['/busy', 20], ['/slow', 5]]);
      expect(totals(await top('avg_ms', 'mean'))).toEqual([['/busy', 60], ['/slow', 59]]);
      // The default stays the documented sum (the max_ms of 4 windows added up outranks the slowest request).
      expect(await top('max_ms')).toMatchObject({ rank: 'sum', keys: [{ key: { endpoint: '/busy' }, total: 400 }, { key: { endpoint: '/slow' }, total: 280 }] });
      expect(totals(await top('requests', 'sum'))).toEqual([['/busy', 40], ['/slow', 3]]);

      // /windows?top ranks the same way, and its rows are the top key's windows.
      const w = await get(`/api/pipelines/${P}/windows?${range}&top=1&by=max_ms&rank=max`);
      expect(w.status).toBe(200);
      expect(w.body.rank).toBe('max');
      expect(w.body.top).toEqual([{ key: { endpoint: '/slow' }, total: 250, windows: 2 }]);
      expect(w.body.rows.map((r: { key: { endpoint: string } }) => r.key.endpoint)).toEqual(['/slow', '/slow']);

      expect(await get(`/api/pipelines/${P}/top?${range}&rank=median`)).toEqual({ status: 400, body: { error: 'rank: must be one of "sum", "max", "min", "mean"', parameter: 'rank' } });
      expect((await get(`/api/pipelines/${P}/windows?${range}&rank=max`)).body).toMatchObject({ parameter: 'rank', error: expect.stringContaining('give top too') });
    } finally {
      await server.close();
    }
  });
});
