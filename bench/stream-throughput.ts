import { pageViewsPerMinute, uniqueVisitors5m } from '../examples/seed.ts';
import { hash64Into } from '../pipeline/hash.ts';
import { HyperLogLog } from '../pipeline/hyperloglog.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { memoryBatches } from '../sources/jsonl-file.ts';
import { createOperator, type Emitter } from '../stream/operators/index.ts';
import { runStream } from '../stream/runtime.ts';
import { best, type Figure } from './measure.ts';

const pipelines = [pageViewsPerMinute, uniqueVisitors5m()];

/** Concord's operators on decoded events: both click pipelines, watermark, lateness, firing. */
export function concordDecoded(events: readonly AnyEvent[]): number {
  let results = 0;
  const emitter: Emitter = { result: () => { results++; }, late: () => undefined };
  const tracker = new WatermarkTracker(30_000);
  const ops = pipelines.map((p) => createOperator(p, emitter, { tracker }));
  const position = { source: 'bench', offset: 0 };
  for (let i = 0; i < events.length; i++) {
    position.offset = i;
    for (const op of ops) op.process(events[i]!, position);
  }
  for (const op of ops) op.finish();
  return results;
}

/**
 * The peer: a hand-written loop computing the same numbers (views per minute per url; an HLL per
 * 5 minutes with the same sketch and hash) with no watermark, lateness or revisions: the practical limit.
 */
export function mapLoop(events: readonly AnyEvent[]): number {
  const views = new Map<string, number>();
  const uniques = new Map<number, HyperLogLog>();
  const h = new Uint32Array(2);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const ts = e.ts as number;
    const k = `${ts - (ts % 60_000)}|${e.url as string}`;
    views.set(k, (views.get(k) ?? 0) + 1);
    const w = ts - (ts % 300_000);
    let hll = uniques.get(w);
    if (!hll) uniques.set(w, (hll = new HyperLogLog(14)));
    hash64Into(e.visitor_id as string, h);
    hll.addHash(h[0]!, h[1]!);
  }
  let n = views.size;
  for (const hll of uniques.values()) n += hll.estimate() > 0 ? 1 : 0;
  return n;
}

/** Concord from JSON lines: decode + validate + both pipelines (the runtime `concord stream` runs). */
export async function concordFromJson(lines: readonly string[]): Promise<number> {
  let results = 0;
  await runStream({ pipelines, source: memoryBatches('bench', lines, 10_000), onResult: () => { results++; }, onLate: () => undefined, onDeadLetter: () => undefined });
  return results;
}

/** The peer: JSON.parse of every line, nothing else. */
export function jsonParseLoop(lines: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < lines.length; i++) if ((JSON.parse(lines[i]!) as { ts?: unknown }).ts !== undefined) n++;
  return n;
}

export async function streamThroughput(events: readonly AnyEvent[], lines: readonly string[], rounds: number): Promise<Figure[]> {
  const n = events.length;
  const concord = await best(rounds, () => concordDecoded(events));
  const loop = await best(rounds, () => mapLoop(events));
  const fromJson = await best(rounds, () => concordFromJson(lines));
  const parse = await best(rounds, () => jsonParseLoop(lines));
  return [
    { metric: 'stream, decoded events (views/min/URL + HLL uniques/5 min)', events: n, seconds: concord, peer: 'hand-written Map loop', peerSeconds: loop, target: '>= 2M events/s, >= 0.3x' },
    { metric: 'stream from JSON bytes (decode + validate included)', events: n, seconds: fromJson, peer: 'JSON.parse loop alone', peerSeconds: parse, target: '>= 0.5x' },
  ];
}
