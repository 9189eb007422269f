import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pageViewsPerMinute, uniqueVisitors5m } from '../examples/seed.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import { createOperator } from '../stream/operators/index.ts';
import { clickEvents } from './synthetic.ts';

export interface GrowthRow {
  events: number;
  keys: number;
  seconds: number;
  peakRssMiB: number;
  results: number;
}

/**
 * In a child process (so peak memory is its own): both click pipelines over `events` events with
 * `keys` distinct urls, generated in chunks of 1M on the fly so only open windows stay in memory.
 */
export function growthRow(events: number, keys: number): GrowthRow {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, String(events), String(keys)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`growth child (${events} events, ${keys} keys) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as GrowthRow;
}

function child(events: number, keys: number): void {
  let results = 0;
  const emitter = { result: () => { results++; }, late: () => undefined };
  const tracker = new WatermarkTracker(30_000);
  const ops = [pageViewsPerMinute, uniqueVisitors5m()].map((p) => createOperator(p, emitter, { tracker }));
  const chunk = 1_000_000;
  // 2,000 events per simulated second: a window holds 120k (1 min) or 600k (5 min) events.
  let busy = 0; // processing only: generating the events is not timed
  for (let done = 0; done < events; done += chunk) {
    const batch = clickEvents(Math.min(chunk, events - done), { urls: keys, visitors: 200_000, perSecond: 2_000, disorder: 0.02 }, 1 + done);
    const shift = done / 2; // ms: continue the timeline where the last chunk ended
    const position = { source: 'bench', offset: 0 };
    for (const e of batch) (e as { ts: number }).ts += shift;
    const t = performance.now();
    for (const e of batch) for (const op of ops) op.process(e, position);
    busy += performance.now() - t;
  }
  const t = performance.now();
  for (const op of ops) op.finish();
  const seconds = (busy + performance.now() - t) / 1000;
  const row: GrowthRow = { events, keys, seconds, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), results };
  process.stdout.write(JSON.stringify(row) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) child(Number(process.argv[2]), Number(process.argv[3]));
