import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { pageViewsPerMinute, seedRegistry } from '../examples/seed.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import { resultToJson, type ResultRecord } from '../schemas/results.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { openStore } from '../store/open-store.ts';
import { StoreSink } from '../store/store-sink.ts';
import { createOperator } from '../stream/operators/index.ts';

export interface EmitDelay {
  windows: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const pct = (xs: number[], p: number) => (xs.length === 0 ? Number.NaN : xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!);

/**
 * Emit delay: from the moment the watermark passes a window's end (the event that moved W is
 * processed) to the window's result being durable in the sink (the result store, embedded DuckDB,
 * committed). Events arrive in batches of `batch` (as from a Kafka fetch); the sink commits after each
 * batch. Measured per fired window; p50/p99 over all of them.
 */
export async function emitDelay(events: Iterable<AnyEvent>, batch: number, target: { storeUrl: string } | { file: string }): Promise<EmitDelay> {
  // The sink: the result store (DuckDB, committed), or a JSONL file (written and fsync'ed).
  const store = 'storeUrl' in target ? await openStore(target.storeUrl, { registry: seedRegistry() }) : undefined;
  const sink = store ? new StoreSink(store, Number.MAX_SAFE_INTEGER) : undefined;
  const fd = 'file' in target ? openSync(target.file, 'w') : undefined;
  let lines: string[] = [];
  const flush = async () => {
    if (sink) await sink.flush();
    if (fd !== undefined) {
      writeSync(fd, lines.join('\n') + '\n');
      fsyncSync(fd);
      lines = [];
    }
  };
  const pending: number[] = [];
  let firedAt = 0;
  const op = createOperator(pageViewsPerMinute, {
    result: (r: ResultRecord) => {
      if (sink) sink.result(r);
      else lines.push(JSON.stringify(resultToJson(r)));
      pending.push(firedAt);
    },
    late: () => undefined,
  }, { tracker: new WatermarkTracker(30_000) });
  const delays: number[] = [];
  const position = { source: 'bench', offset: 0 };
  try {
    // A batch at a time, as a source delivers them (the batch is made before its events are timed).
    const input = events[Symbol.iterator]();
    for (let offset = 0; ;) {
      const next: AnyEvent[] = [];
      for (let step = input.next(); !step.done; step = input.next()) {
        next.push(step.value);
        if (next.length === batch) break;
      }
      if (next.length === 0) break;
      for (const event of next) {
        firedAt = performance.now();
        position.offset = offset++;
        op.process(event, position);
      }
      if (pending.length > 0) {
        await flush();
        const durable = performance.now();
        for (const t of pending) delays.push(durable - t);
        pending.length = 0;
        await sink?.checkpointIfDue();
      }
    }
  } finally {
    await store?.close();
    if (fd !== undefined) closeSync(fd);
  }
  delays.sort((a, b) => a - b);
  return { windows: delays.length, p50Ms: pct(delays, 50), p99Ms: pct(delays, 99), maxMs: delays.at(-1) ?? Number.NaN };
}
