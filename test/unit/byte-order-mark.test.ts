import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A file saved by a Windows editor starts with a byte-order mark (U+FEFF): it opens the first line and is
// no part of the event. Both runtimes read the line as the event it is (it was a dead letter).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());

describe('a byte-order mark at the start of the input', () => {
  it('is no part of the first event: stream and archive take it, nothing is rejected', async () => {
    const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 0, allowedLateness: 0 });
    const click = (id: string, ts: number) => JSON.stringify({ event_id: id, ts, url: '/a', visitor_id: `v${id}` });
    const both = await runBoth(def, [`\uFEFF${click('e1', 1_000)}`, click('e2', 2_000), click('e3', 120_000)], join(ws.dir, 'archive'));
    expect(both.deadLetters).toEqual([]);
    expect(both.stats.events).toBe(3);
    expect(both.final.map((r) => (r.kind === 'window' ? r.values.views : null))).toEqual([2, 1]);
    expect(both.report).toMatchObject({ different: 0, unexplained: 0 });
  });
});
