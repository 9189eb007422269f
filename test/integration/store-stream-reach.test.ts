import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { DuckDbDriver } from '../../store/duckdb-driver.ts';
import { openStore } from '../../store/open-store.ts';
import { PostgresDriver } from '../../store/pg-driver.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { P, storeBackends, T0, win } from '../fixtures/result-store.ts';

// How far the stream read each source (store/stream-reach.ts), which reconcile reads to name the lines a
// file appended after the stream read it `archive_added`: written with the rows decided up to there, kept
// per pipeline and source until a later run reads the source again, not forgotten by other stream writes
// (as input_ends is); a store written before the table existed gets it, empty, from its next writer.
const { schemas, backends } = storeBackends();
const OTHER = 'unique_visitors_5m';

describe.each(backends)('stream reach: $name', ({ url }) => {
  it('is written with the stream\'s rows per pipeline and source, replaced by a later read of the source, kept by other writes', async () => {
    const target = url();
    const schema = schemas.next('reach');
    const store = await openStore(target, { registry: seedRegistry(), schema });
    try {
      const sink = new StoreSink(store);
      sink.result(win(0, '/a', 1));
      sink.reached(P, 'file:day.jsonl', 300);
      sink.reached(P, 'file:day.jsonl', 450); // later batches of the same run: the last one counts
      sink.reached(OTHER, 'file:day.jsonl', 450);
      expect(await store.streamReach(P)).toEqual(new Map()); // buffered until the rows are written
      await sink.flush();
      expect(await store.streamReach(P)).toEqual(new Map([['file:day.jsonl', 450]]));
      expect(await store.streamReach(OTHER)).toEqual(new Map([['file:day.jsonl', 450]]));
      // Writes without a reach (a Kafka sink's, a backfill's) leave it as it was.
      await store.writeRealtime([win(1, '/a', 1)]);
      await store.setWatermark(P, T0 + 3_600_000);
      expect(await store.streamReach(P)).toEqual(new Map([['file:day.jsonl', 450]]));
      // A run over another file adds its source; a run reading day.jsonl again from its start replaces its reach.
      sink.reached(P, 'file:day2.jsonl', 12);
      sink.reached(P, 'file:day.jsonl', 120);
      await sink.flush();
      expect(await store.streamReach(P)).toEqual(new Map([['file:day.jsonl', 120], ['file:day2.jsonl', 12]]));
      expect(await store.streamReach(OTHER)).toEqual(new Map([['file:day.jsonl', 450]]));
    } finally {
      await store.close();
    }
  });

  it('a store created before the table gets it empty from its next writer, which records the reach again', async () => {
    const target = url();
    const schema = schemas.next('reach_upgrade');
    const first = await openStore(target, { registry: seedRegistry(), schema });
    await first.writeRealtime([win(0, '/a', 3)]);
    await first.close();
    const driver = target.startsWith('duckdb:') ? await DuckDbDriver.open(target.slice('duckdb:'.length)) : await PostgresDriver.open(target, 0);
    await driver.query(`DROP TABLE ${schema}.stream_reach`);
    await driver.close();
    const again = await openStore(target, { registry: seedRegistry(), schema });
    try {
      expect(await again.streamReach(P)).toEqual(new Map());
      expect((await again.current(P, '2026-11-23')).length).toBe(1);
      await again.writeBatch({ results: [], late: new Map(), watermarks: new Map(), reach: new Map([[P, new Map([['file:day.jsonl', 7]])]]) });
      expect(await again.streamReach(P)).toEqual(new Map([['file:day.jsonl', 7]]));
    } finally {
      await again.close();
    }
  });
});
