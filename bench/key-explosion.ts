/**
 * A key-cardinality explosion: N distinct URLs in one 1-minute window through the stream runtime
 * (page_views_per_minute), with the default state budget. Prints where it stopped, the error, and the
 * peak RSS. Usage: tsx bench/key-explosion.ts [N=10000000]
 */
import { pageViewsPerMinute } from '../examples/seed.ts';
import { runStream } from '../stream/runtime.ts';
import type { LineBatch } from '../sources/source.ts';

const n = Number(process.argv[2] ?? 10_000_000);
const T0 = Date.parse('2026-11-23T10:00:00Z');
let peak = 0;
const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
async function* lines(): AsyncGenerator<LineBatch> {
  for (let i = 0; i < n; i += 10_000) {
    const batch: string[] = [];
    for (let j = i; j < Math.min(n, i + 10_000); j++) batch.push(`{"event_id":"e${j}","ts":${T0 + (j % 50_000)},"url":"/u/${j}","visitor_id":"v"}`);
    yield { source: 'bench', firstOffset: i, lines: batch };
  }
}
const started = Date.now();
let events = 0;
try {
  const stats = await runStream({
    pipelines: [pageViewsPerMinute], source: lines(), onResult: () => undefined, onLate: () => undefined, onDeadLetter: () => undefined,
    afterBatch: (s) => { events = s.events; },
  });
  console.log(`completed: ${stats.events} events, ${stats.results} results`);
} catch (error) {
  console.log(`stopped after ${events.toLocaleString('en-US')} events: ${(error as Error).name}: ${(error as Error).message}`);
}
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage().rss);
console.log(`${((Date.now() - started) / 1000).toFixed(1)} s, peak RSS ${(peak / 2 ** 20).toFixed(0)} MB, heap limit ${(((await import('node:v8')).getHeapStatistics().heap_size_limit) / 2 ** 20).toFixed(0)} MB`);
