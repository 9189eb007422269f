import { generateDay } from '../generate/realistic-day.ts';
import { seedRegistry } from '../examples/seed.ts';
import { openStore } from '../store/open-store.ts';
import { StoreSink } from '../store/store-sink.ts';
import { memoryBatches } from '../sources/jsonl-file.ts';
import { runStream } from '../stream/runtime.ts';

/** The demo's day of clicks (seed 42), as `concord demo` generates it. */
export function demoClicks(clicks: number): string[] {
  return generateDay({ seed: 42, date: '2026-11-23', clicks, transactions: 0 }).clicks;
}

export interface StoreStreamRun {
  seconds: number;
  events: number;
  results: number;
}

/**
 * The demo's stream step: every click pipeline over `lines` in file order, results and late events into
 * the store at `storeUrl` through the StoreSink (as `concord demo` and `concord stream --store` do), or
 * into nothing (undefined: the peer, the stream runtime alone).
 */
export async function streamIntoStore(lines: readonly string[], storeUrl: string | undefined, schema?: string, sinkOptions?: { batchSize?: number; checkpointEvery?: number }): Promise<StoreStreamRun> {
  const registry = seedRegistry();
  const pipelines = registry.pipelines.filter((p) => p.schema.name === 'clicks');
  const store = storeUrl === undefined ? undefined : await openStore(storeUrl, { registry, ...(schema ? { schema } : {}) });
  const sink = store ? new StoreSink(store, sinkOptions?.batchSize, sinkOptions?.checkpointEvery) : undefined;
  const started = performance.now();
  let results = 0;
  try {
    const stats = await runStream({
      pipelines,
      source: memoryBatches('file:clicks.jsonl', lines),
      onResult: (r) => { results++; sink?.result(r); },
      onLate: (l) => sink?.lateEvent(l, false),
      onLateAccepted: (l) => sink?.lateEvent(l, true),
      onDeadLetter: () => undefined,
      afterBatch: async (s) => {
        await sink?.afterBatch(s.inputWatermarks);
        await sink?.checkpointIfDue();
      },
    });
    if (sink) {
      sink.watermarksOf(stats.inputWatermarks);
      await sink.flush();
    }
    return { seconds: (performance.now() - started) / 1000, events: stats.events, results };
  } finally {
    await store?.close();
  }
}
