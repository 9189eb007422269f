import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { KafkaArchiver } from '../../batch/kafka-archiver.ts';
import { clicksSchema, pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { kafkaSettings } from '../../stream/kafka/client.ts';
import { inputTopic } from '../../stream/kafka/topics.ts';

// A counter series that first appears with its first increase is invisible to rate() and increase()
// (Prometheus has no earlier sample to compare with): the first burst of dead letters after a start, a
// first failed job, raised no alert. Each process lists the counters it will count at 0 from its start,
// before it reads anything (none of these constructors talks to a broker).
const settings = kafkaSettings('concord-test-declared');

async function series(m: PromProcessMetrics, name: string): Promise<Record<string, number>> {
  const text = await m.registry.getSingleMetricAsString(name);
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const s = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (s) out[s[2]!] = Number(s[3]);
  }
  return out;
}

describe('the counters each process will count are listed at 0 from its start', () => {
  it('concord run: events in, filtered and out, late events per pipeline, dead letters per input', async () => {
    const m = new PromProcessMetrics();
    new KafkaWorker({ pipelines: [pageViewsPerMinute], settings, workerId: 'declared', metrics: m });
    const p = 'pipeline="page_views_per_minute"';
    expect(await series(m, 'concord_events_in_total')).toEqual({ [p]: 0 });
    expect(await series(m, 'concord_events_filtered_total')).toEqual({ [p]: 0 });
    expect(await series(m, 'concord_events_out_total')).toEqual({ [p]: 0 });
    expect(await series(m, 'concord_late_events_total')).toEqual({ [p]: 0 });
    expect(await series(m, 'concord_dead_letters_total')).toEqual({ 'input="clicks"': 0 });
  });

  it('concord archive --from-kafka: records archived of its topic', async () => {
    const m = new PromProcessMetrics();
    new KafkaArchiver({ schema: clicksSchema, sketched: [], dir: '/nonexistent', settings, metrics: m });
    expect(await series(m, 'concord_archived_records_total')).toEqual({ [`topic="${inputTopic('clicks')}"`]: 0 });
  });

  it('concord sink: rows written, results and late', async () => {
    const m = new PromProcessMetrics();
    new KafkaStoreSink({ settings, store: {} as never, pipelines: [pageViewsPerMinute], metrics: m });
    expect(await series(m, 'concord_store_rows_written_total')).toEqual({ 'kind="results"': 0, 'kind="late"': 0 });
  });

  it('concord jobs worker: every job kind with every outcome', async () => {
    const m = new PromProcessMetrics();
    const prefix = `h-declared-${randomUUID().slice(0, 8)}`;
    const worker = startWorker({} as never, { prefix, metrics: m, pipelines: seedRegistry().pipelines.map((p) => p.name) });
    try {
      const jobs = await series(m, 'concord_jobs_total');
      for (const kind of ['reconcile', 'backfill', 'nightly', 'prune']) {
        for (const outcome of ['completed', 'failed', 'delayed']) expect(jobs[`kind="${kind}",outcome="${outcome}"`], `${kind} ${outcome}`).toBe(0);
      }
    } finally {
      await worker.close();
      const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
