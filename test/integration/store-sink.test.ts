import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { DAY, P, win } from '../fixtures/result-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The store sink, the stream's buffer in front of the result store, on embedded DuckDB files: when it
// checkpoints the file, and how it keeps one write in flight while the stream computes.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());

describe('store sink on embedded DuckDB: checkpoints between writes', () => {
  it('checkpoints once enough rows were written, and the file holds every row after a reopen', async () => {
    const path = join(ws.dir, `sink-${randomUUID()}.duckdb`);
    const store = await openStore(`duckdb:${path}`, { registry: seedRegistry() });
    const sink = new StoreSink(store, 1_000, 100);
    for (let i = 0; i < 60; i++) sink.result(win(i, '/a', i + 1));
    await sink.flush();
    expect(await sink.checkpointIfDue()).toBe(false); // 60 rows since the last checkpoint
    for (let i = 60; i < 120; i++) sink.result(win(i, '/a', i + 1));
    await sink.flush();
    expect(await sink.checkpointIfDue()).toBe(true);
    expect(await sink.checkpointIfDue()).toBe(false); // counted from the checkpoint again
    await store.close();
    const reopened = await openStore(`duckdb:${path}`, { registry: seedRegistry() });
    try {
      const rows = await reopened.realtimeResults(P, DAY);
      expect(rows).toHaveLength(120);
      expect((rows as WindowResult[]).map((r) => r.values.views)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    } finally {
      await reopened.close();
    }
  });
});

describe('store sink: one write in flight while the stream computes', () => {
  it('group-commits: while a write is in flight the sink buffers on, and waits only past maxPending', async () => {
    const store = await openStore(`duckdb:${join(ws.dir, `sink-${randomUUID()}.duckdb`)}`, { registry: seedRegistry() });
    try {
      const sizes: number[] = [];
      const writeBatch = store.writeBatch.bind(store);
      let release: () => void = () => undefined;
      let gate = new Promise<void>((r) => { release = r; });
      store.writeBatch = async (batch) => { sizes.push(batch.results.length); await gate; return writeBatch(batch); };
      const sink = new StoreSink(store, 10, 1_000_000, 50);
      for (let i = 0; i < 10; i++) sink.result(win(i, '/a', 1));
      await sink.maybeFlush(); // 10 buffered: the first write starts (and is held at the gate)
      for (let i = 10; i < 40; i++) {
        sink.result(win(i, '/a', 1));
        await sink.maybeFlush(); // a write in flight, under 50 buffered: returns at once
      }
      expect(sizes).toEqual([10]);
      const waiting = (async () => {
        for (let i = 40; i < 60; i++) sink.result(win(i, '/a', 1));
        await sink.maybeFlush(); // 50 buffered: waits for the write in flight, then takes all 50
      })();
      release();
      gate = Promise.resolve();
      await waiting;
      await sink.flush();
      expect(sizes.filter((n) => n > 0)).toEqual([10, 50]); // flush also writes an empty batch (W only)
      expect(await store.current(P, DAY)).toHaveLength(60);
    } finally {
      await store.close();
    }
  });

  it('maybeFlush writes full batches in the background, in order; flush waits for everything; a failed write fails the next call', async () => {
    const store = await openStore(`duckdb:${join(ws.dir, `sink-${randomUUID()}.duckdb`)}`, { registry: seedRegistry() });
    try {
      const sink = new StoreSink(store, 10);
      // The same cell at rising revisions across batches: the last one must win.
      for (let rev = 0; rev < 35; rev++) {
        sink.result(win(0, '/a', rev, rev));
        sink.result(win(rev + 1, '/b', 1));
        await sink.maybeFlush();
      }
      await sink.flush();
      expect(sink.written.results).toBe(70);
      const rows = await store.current(P, DAY);
      expect(rows).toHaveLength(36);
      expect(rows[0]).toMatchObject({ revision: 34, values: { views: 34 } });
      // A write that fails (the store is closed under it) is reported by the next call, not lost.
      await store.close();
      for (let i = 0; i < 10; i++) sink.result(win(100 + i, '/c', 1));
      await sink.maybeFlush(); // starts the write and returns
      await expect(sink.flush()).rejects.toThrow();
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
