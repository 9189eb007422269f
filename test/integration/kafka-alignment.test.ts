import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { BatchProducer, ensureTopics, kafkaSettings, readLatestByKey } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker, type WorkerStats } from '../../stream/kafka-worker.ts';
import { concord } from '../fixtures/cli.ts';

// Watermark alignment against the real broker: a backfill whose two partitions advance in event time at
// very different speeds (one holds 10x the events per minute of the other, and a fetch takes the same
// bytes from each). Without alignment the sparse partition runs most of the hour ahead of the dense one,
// and every window in between stays open; with it the spread stays near the drift. The results are the
// same either way (lateness is judged per partition).
const s = kafkaSettings('concord-test-align');
const MIN = 60_000;
const START = Date.UTC(2026, 10, 23, 10);
const DENSE = 20_000, SPARSE = 2_000;
const DRIFT = 3 * MIN;

// Small fetches and a small read-ahead, so that the hour takes many fetches and pausing acts on them.
const FETCH_BYTES = 8 * 1024, PREFETCH = 400;
process.env.CONCORD_KAFKA_MAX_BYTES_PER_PARTITION = String(FETCH_BYTES);
process.env.CONCORD_KAFKA_PREFETCH_RECORDS = String(PREFETCH);
/**
 * How far alignment may let the sparse partition run past the drift: it acts on fetches, so what was read
 * already is still processed after a pause (docs/operations.md): the records read ahead (all of them may be
 * the sparse partition's) and one fetch in flight (8 KiB: about 100 of these records), 1.8 s apart in event
 * time. ~15 min, against 30-50 min without alignment.
 */
const COARSENESS = (PREFETCH + 100) * ((60 * MIN) / SPARSE);

const registry = seedRegistry();
const pageViews = registry.pipeline('page_views_per_minute');

/** One hour of clicks: partition 0 dense (urls /d0../d9), partition 1 sparse (/s0../s4); a url lives in one partition. */
function clicks(topic: string) {
  const dense = Array.from({ length: DENSE }, (_, i) => ({ partition: 0, ts: START + Math.floor((i * 60 * MIN) / DENSE), url: `/d${i % 10}` }));
  const sparse = Array.from({ length: SPARSE }, (_, i) => ({ partition: 1, ts: START + Math.floor((i * 60 * MIN) / SPARSE), url: `/s${i % 5}` }));
  return [...dense, ...sparse].map((c, i) => ({
    topic, partition: c.partition, key: c.url, value: JSON.stringify({ event_id: `c${i}`, ts: c.ts, url: c.url, visitor_id: `v${i % 13}` }),
  }));
}

/** Views per (minute, url) straight from the produced clicks. */
function expectedViews(): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of clicks('x')) {
    const c = JSON.parse(r.value) as { ts: number; url: string };
    const key = `${new Date(Math.floor(c.ts / MIN) * MIN).toISOString()}|${c.url}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/** A fresh topic prefix holding the hour of clicks. */
async function produced(): Promise<string> {
  const prefix = `al${randomUUID().slice(0, 6)}.`;
  await ensureTopics(s, concordTopics(registry, 2, prefix));
  const producer = await BatchProducer.connect(s);
  // Small produce requests: a fetch returns whole record batches, however large (one request per partition would be one batch).
  const records = clicks(topicNames(prefix).input('clicks'));
  for (let i = 0; i < records.length; i += 100) await producer.send(records.slice(i, i + 100));
  await producer.close();
  return prefix;
}

async function run(maxWatermarkDriftMs?: number): Promise<{ stats: WorkerStats; views: Map<string, number> }> {
  const prefix = await produced();
  const names = topicNames(prefix);
  process.env.CONCORD_TOPIC_PREFIX = prefix;
  const worker = new KafkaWorker({
    pipelines: [pageViews], settings: s, workerId: 'align', partitions: 2, stopWhenIdleMs: 2_000,
    ...(maxWatermarkDriftMs === undefined ? {} : { maxWatermarkDriftMs }),
  });
  const stats = await worker.run();
  const views = new Map<string, number>();
  for (const value of (await readLatestByKey(s, names.results)).values()) {
    const row = JSON.parse(value) as { window_start: string; url: string; views: number };
    views.set(`${row.window_start}|${row.url}`, row.views);
  }
  return { stats, views };
}

describe('concord run: watermark alignment', () => {
  it('keeps the partitions within the drift in event time, with the same results as without it', async () => {
    const expected = expectedViews();
    const free = await run();
    const aligned = await run(DRIFT);
    expect(free.stats.events).toBe(DENSE + SPARSE);
    expect(aligned.stats.events).toBe(DENSE + SPARSE);
    expect(free.stats.late).toBe(0);
    expect(aligned.stats.late).toBe(0);
    expect(free.views).toEqual(expected);
    expect(aligned.views).toEqual(expected);
    // Without alignment the sparse partition runs far ahead (it is read at 10x the event-time speed).
    expect(free.stats.maxWatermarkSpreadMs).toBeGreaterThan(30 * MIN);
    expect(free.stats.alignmentPauses).toBe(0);
    // With it: the drift, plus what the read-ahead and one fetch of the sparse partition span.
    expect(aligned.stats.alignmentPauses).toBeGreaterThan(0);
    expect(aligned.stats.maxWatermarkSpreadMs).toBeLessThan(DRIFT + COARSENESS);
  }, 180_000);

  it('concord run --max-watermark-drift says what alignment did; a bad drift is a user error', async () => {
    const prefix = await produced();
    const env = { CONCORD_TOPIC_PREFIX: prefix };
    const r = concord(['run', '--pipeline', 'page_views_per_minute', '--worker-id', 'align-cli', '--stop-when-idle', '2s', '--max-watermark-drift', '3m'], env);
    expect(r.code).toBe(0);
    const spread = /(\d+) events, .*alignment: (\d+) pauses; event-time spread at most (\d+) s/.exec(r.stderr);
    expect(spread, r.stderr).not.toBeNull();
    expect(Number(spread![1])).toBe(DENSE + SPARSE);
    expect(Number(spread![2])).toBeGreaterThan(0);
    expect(Number(spread![3]) * 1000).toBeLessThan(DRIFT + COARSENESS);
    const bad = concord(['run', '--pipeline', 'page_views_per_minute', '--max-watermark-drift', 'soon'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-watermark-drift/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);
});
