import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { runStream } from '../../stream/runtime.ts';

// Each pipeline judges an event on its own: the stats count late events per pipeline, and the total is
// their sum (what `run` and `demo` print, "late per pipeline").
describe('runStream late counts', () => {
  it('counts late events per pipeline; one event can be late for one pipeline and not the other', async () => {
    const clicks = seedRegistry().pipelinesOf('clicks');
    const at = (minutes: number, id: string) => JSON.stringify({ event_id: id, ts: minutes * 60_000, url: '/a', visitor_id: 'v' });
    // After 60 min, W = 59:29.999 (B = 30 s). The event at 0 is beyond L (5 min) for both windows; the one
    // at 52.5 min is beyond L for its 1-minute window (52-53, open until 57:59.999) but not for its
    // 5-minute one (50-55, open until 59:59.999).
    const lines = [at(0, 'a'), at(60, 'b'), at(0, 'c'), at(52.5, 'd')];
    const lates: string[] = [];
    const stats = await runStream({
      pipelines: clicks, source: memoryBatches('file:clicks.jsonl', lines), onResult: () => undefined, onDeadLetter: () => undefined,
      onLate: (l) => lates.push(`${l.pipeline}:${String(l.event.event_id)}`),
    });
    expect(lates.sort()).toEqual(['page_views_per_minute:c', 'page_views_per_minute:d', 'unique_visitors_5m:c']);
    expect(stats.latePerPipeline).toEqual({ page_views_per_minute: 2, unique_visitors_5m: 1 });
    expect(stats.late).toBe(3);
  });
});
