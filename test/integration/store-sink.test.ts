import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import type { ResultRecord, WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { runStream } from '../../stream/runtime.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { DAY, P, win } from '../fixtures/result-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The store sink, the stream's buffer in front of the result store, on embedded DuckDB files: when it
// checkpoints the file, how it keeps one write in flight while the stream computes, and how an in-process
// stream's W reaches the store.
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

describe('store sink in-process: the store W moves with the stream, with the rows it decided', () => {
  const T = Date.UTC(2026, 10, 23, 10);
  const txn = (i: number, minute: number) => JSON.stringify({ txn_id: `t${i}`, ts: T + minute * 60_000, user_id: `u${i}`, country: 'DE', amount: 100 });
  const click = (i: number, minute: number, url: string) => JSON.stringify({ event_id: `c${i}`, ts: T + minute * 60_000, url, visitor_id: `v${i}` });

  /** Streams `lines` in batches of `batchLines` through a sink; per batch, once its write settled: the store's W, its rows, the stream's W. */
  async function streamObserved(pipeline: PipelineDefinition, lines: string[], batchLines: number, batchSize: number) {
    const store = await openStore(`duckdb:${join(ws.dir, `sink-${randomUUID()}.duckdb`)}`, { registry: seedRegistry() });
    try {
      const writeBatch = store.writeBatch.bind(store);
      let writes = 0;
      store.writeBatch = (batch) => { writes++; return writeBatch(batch); };
      const sink = new StoreSink(store, batchSize);
      const seen: { stream: number; store: number | null; rows: number; emitted: ResultRecord[]; writes: number }[] = [];
      const emitted: ResultRecord[] = [];
      await runStream({
        pipelines: [pipeline],
        source: memoryBatches('file:in.jsonl', lines, batchLines),
        onResult: (r) => { emitted.push(r); sink.result(r); },
        onLate: (l) => sink.lateEvent(l, false),
        onDeadLetter: () => undefined,
        afterBatch: async (s) => {
          await sink.afterBatch(s.inputWatermarks);
          await sink.settled(); // the write it started, if any, committed: what a reader sees now
          const rows = await store.current(pipeline.name, DAY);
          seen.push({ stream: s.inputWatermarks[pipeline.name]!, store: await store.watermark(pipeline.name), rows: rows.length, emitted: [...emitted], writes });
        },
      });
      return seen;
    } finally {
      await store.close();
    }
  }

  it('a rule with no alert: the store W follows the stream batch by batch, one write per batch that moved it', async () => {
    const fraud = fraudMultiCountry();
    // Batches of 2 lines; the third holds only an older event (W does not move) and a bad line.
    const seen = await streamObserved(fraud, [txn(0, 0), txn(1, 5), txn(2, 10), txn(3, 20), txn(4, 1), 'not json', txn(5, 30)], 2, 5_000);
    const B = fraud.watermark.maxOutOfOrderness;
    expect(seen.map((s) => s.stream)).toEqual([T + 5 * 60_000 - B - 1, T + 20 * 60_000 - B - 1, T + 20 * 60_000 - B - 1, T + 30 * 60_000 - B - 1]);
    expect(seen.map((s) => s.store)).toEqual(seen.map((s) => s.stream));
    expect(seen.every((s) => s.emitted.length === 0 && s.rows === 0)).toBe(true);
    expect(seen.map((s) => s.writes)).toEqual([1, 2, 2, 3]); // none for the batch whose W stayed
  });

  it('a windowed pipeline under a batch never full: the store W moves, and every row emitted before it is in the store with it', async () => {
    const lines = [click(0, 0, '/a'), click(1, 0, '/b'), click(2, 2, '/a'), click(3, 4, '/a'), click(4, 4, '/c'), click(5, 7, '/a')];
    const seen = await streamObserved(pageViewsPerMinute, lines, 2, 1_000_000);
    expect(seen.map((s) => s.store)).toEqual(seen.map((s) => s.stream));
    for (const s of seen) {
      expect(s.rows).toBe(new Set(s.emitted.map((r) => `${r.kind === 'window' ? r.windowStart : 0}|${JSON.stringify(r.key)}`)).size);
      // Every window that closed by the store's W fired (windowHasFired) and is among those rows.
      for (const r of s.emitted) expect(r.kind === 'window' && r.windowEnd - 1 <= s.store!).toBe(true);
    }
    expect(seen.at(-1)!.rows).toBeGreaterThan(0);
  });
});
