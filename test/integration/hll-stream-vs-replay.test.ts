import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { uniqueVisitors5m } from '../../examples/seed.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace();
afterAll(() => ws.cleanup());

// Large cardinalities take the raw-estimate path (> 2.5 m), which small property-test inputs never reach.
describe('HyperLogLog: stream registers vs DuckDB SQL registers (real DuckDB)', () => {
  it.each([10, 12, 14, 16])('precision %i: identical estimates at 150k distinct visitors', async (p) => {
    const def = uniqueVisitors5m(p);
    const lines: string[] = [];
    for (let i = 0; i < 150_000; i++) {
      const ts = 1_000 + (i % 290_000) + (i >= 100_000 ? 300_000 : 0);
      lines.push(JSON.stringify({ event_id: `e${i}`, ts, url: '/', visitor_id: `visitor-${i}-${i % 7}` }));
    }
    const both = await runBoth(def, lines, join(ws.dir, `p${p}`), 20_000);
    const stream = (both.final as WindowResult[]).map((r) => [r.windowStart, r.values.visitors]);
    const replayed = (both.replayed as WindowResult[]).map((r) => [r.windowStart, r.values.visitors]);
    expect(replayed).toEqual(stream);
    const exact = (both.replayed as WindowResult[]).map((r) => r.extra?.visitors_exact);
    expect(exact).toEqual([100_000, 50_000]);
    for (const r of both.replayed as WindowResult[]) {
      expect(Math.abs(r.values.visitors! - r.extra!.visitors_exact!) / r.extra!.visitors_exact!).toBeLessThan(p >= 14 ? 0.03 : 0.1);
    }
  }, 60_000);
});
