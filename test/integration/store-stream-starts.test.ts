import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { whyNoStreamRows } from '../../reconcile/stream-coverage.ts';
import { openStore } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Where a pipeline's stream started (store/stream-starts.ts): its first W, kept as later ones come, on
// both write paths (the sole DuckDB writer's live index; PostgreSQL's statements); a store whose stream
// wrote W before the table existed records none, and its first day with rows says where it started.
const ws = tempWorkspace('concord-stream-starts-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const P = pageViewsPerMinute.name;
const backends = [
  { name: 'embedded DuckDB', url: `duckdb:${join(ws.dir, 'store.duckdb')}`, schema: undefined as string | undefined },
  { name: 'PostgreSQL', url: PG_URL, schema: schemas.next('storedays') },
];

describe.each(backends)('the stream start on $name', (b) => {
  it('is the first W written, kept as W moves; none for a W stored before the table', async () => {
    const registry = seedRegistry();
    const open = () => openStore(b.url, { registry, ...(b.schema ? { schema: b.schema } : {}) });
    const D1 = Date.parse('2026-11-23T10:00:00.000Z'), D3 = Date.parse('2026-11-25T10:00:00.000Z');
    let store = await open();
    try {
      expect(await store.streamStart(P)).toBeNull();
      await store.writeBatch({ results: [], late: new Map(), watermarks: new Map([[P, D1]]) });
      await store.writeBatch({ results: [], late: new Map(), watermarks: new Map([[P, D3]]) });
      await store.setWatermark(P, D3 + 1);
      expect(await store.streamStart(P)).toBe(D1);
      expect(await store.watermark(P)).toBe(D3 + 1);
      // Read the day before the rows: its stream started on 2026-11-23, the day it kept nothing of.
      expect(await whyNoStreamRows(store, pageViewsPerMinute, '2026-11-23')).toBeUndefined();
      expect(await whyNoStreamRows(store, pageViewsPerMinute, '2026-11-22')).toBeUndefined(); // no rows at all: the replay decides
    } finally {
      await store.close();
    }
    // Another process (a new writer) keeps it too.
    store = await open();
    try {
      await store.setWatermark(P, D3 + 2);
      expect(await store.streamStart(P)).toBe(D1);
      // A pipeline whose W the store held before the table existed: no start recorded by later writes.
      const other = 'unique_visitors_5m';
      await store.setWatermark(other, D1);
      await (store as unknown as { db: { execute(sql: string, p?: unknown[]): Promise<unknown> } }).db.execute(`DELETE FROM ${b.schema ?? 'concord'}.stream_starts WHERE pipeline = $1`, [other]);
    } finally {
      await store.close();
    }
    store = await open();
    try {
      await store.setWatermark('unique_visitors_5m', D3);
      expect(await store.streamStart('unique_visitors_5m')).toBeNull();
    } finally {
      await store.close();
    }
  });
});
