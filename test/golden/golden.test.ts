import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { formatWatermark } from '../../pipeline/time.ts';
import { resultToJson } from '../../schemas/results.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { goldenCases } from './cases.ts';

const ws = tempWorkspace();
afterAll(() => ws.cleanup());

describe.each(goldenCases.map((c, i) => [c.name, c, i] as const))('golden: %s', (_name, c, i) => {
  const def = withTiming(seedRegistry().pipeline(c.pipeline), { maxOutOfOrderness: c.maxOutOfOrderness, allowedLateness: c.allowedLateness });
  const lines = c.input.map((e) => JSON.stringify(e));
  const run = runBoth(def, lines, join(ws.dir, `case-${i}`));

  it('stream: final results', async () => {
    expect((await run).final.map(resultToJson)).toMatchObject(c.stream);
  });

  if (c.changelog) {
    it('stream: every revision, in emission order', async () => {
      expect((await run).changelog.map(resultToJson)).toMatchObject(c.changelog!);
    });
  }

  it('stream: late side output', async () => {
    const lates = (await run).lates.map((l) => ({ id: String(l.event[def.schema.idField]), watermark: formatWatermark(l.watermark) }));
    expect(lates).toEqual(c.late);
  });

  it('replay over the archive', async () => {
    expect((await run).replayed.map(resultToJson)).toMatchObject(c.replay);
  });

  it('reconcile explains every difference', async () => {
    const { report } = await run;
    expect(report.unexplained).toBe(0);
    expect(report.equal + report.different).toBe(report.cells);
    if (c.late.length === 0 && !c.stream.some((r) => r.late === true)) expect(report.different).toBe(0);
    else expect(report.different).toBeGreaterThan(0);
  });
});
