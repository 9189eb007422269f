import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';
import { streamLines } from '../fixtures/run-both.ts';

// A stream run of a changed definition into a store that holds another definition's stream rows of the
// same windows: a revision above the stored one must not replace the other definition's row (the run
// says "the store kept its rows"), else one day's version 0 mixes two definitions cell by cell.
const { schemas, backends } = storeBackends();
const M = 60_000;
const before = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const after = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 12 * M }); // L changed: another version
const P = before.name;
const click = (id: string, ts: number, url = '/a') => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });

/** Minutes 0..4 of /a (minute + 1 clicks each); minute 20 closes them. */
function dayLines(): string[] {
  const lines: string[] = [];
  for (let m = 0; m < 5; m++) for (let i = 0; i <= m; i++) lines.push(click(`a${m}-${i}`, T0 + m * M + i * 100));
  return [...lines, click('close', T0 + 20 * M, '/c')];
}

describe.each(backends)('stream rows of a changed definition over stored ones: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  it('a higher revision of another definition version does not replace the stored row: kept out, counted, the cell dirtied', async () => {
    expect(definitionVersion(after)).not.toBe(definitionVersion(before));
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('dc') });
    stores.push(store);
    await store.writeRealtime((await streamLines(before, dayLines())).changelog);
    // The changed definition over the same day plus one click of minute 2 late within its L: revision 1 of that cell.
    const lines = dayLines();
    const changed = await streamLines(after, [...lines.slice(0, -1), click('late', T0 + 2 * M + 50), ...lines.slice(-1)]);
    const a2 = changed.changelog.filter((r) => r.kind === 'window' && r.key.url === '/a' && r.windowStart === T0 + 2 * M) as WindowResult[];
    expect(a2.map((r) => [r.revision, r.values.views])).toEqual([[0, 3], [1, 4]]);
    const outcome = await store.writeRealtime(changed.changelog);
    expect(outcome.conflicting).toBe(1);
    const rows = (await store.current(P, DAY)).filter((r) => r.kind === 'window');
    expect(new Set(rows.map((r) => r.definitionVersion))).toEqual(new Set([definitionVersion(before)]));
    expect(rows.find((r) => r.windowStart === T0 + 2 * M && r.key.url === '/a')?.values.views).toBe(3);
    expect((await store.dirtyCells(P, DAY)).map((d) => [(d.windowStart - T0) / M, d.key.url])).toEqual([[2, '/a']]);
  });
});
