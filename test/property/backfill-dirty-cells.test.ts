import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { cellsFilter, type WindowCell } from '../../batch/replay-cells.ts';
import { windowedPlan } from '../../batch/replay-sql.ts';
import { sourceRelation } from '../../batch/replay-source.ts';
import { replay } from '../../batch/replay.ts';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { windowCellId, type KeyValues } from '../../pipeline/keys.ts';
import { sameValuesOf } from '../../pipeline/same-values.ts';
import { replayDirtyCells } from '../../reconcile/backfill-day.ts';
import { resultToJson, type ResultRecord, type WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { definitionCaseArb, describeCase, type GeneratedCase } from '../fixtures/definition-arbitraries.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A backfill replays only its dirty (window, key) cells (batch/replay-cells.ts). For random windowed
// definitions (keys of every type, null and "null" among them, tumbling and hopping windows, every
// aggregate, approx_distinct too) over random archives (duplicate ids, invalid lines) and random dirty
// cells (some with events, some without, null keys turned into "null" and back):
//   the backfill's replay of the dirty cells == the replay it ran before (every cell of the dirty
//     windows, deduplicated within them) restricted to the dirty cells, value for value as the store
//     compares them: exactly (HLL bit for bit), but sums and averages of doubles within its tolerance
//     (their last bits follow the order DuckDB adds them in, which the semi-join changes);
//   its (event, window) pairs and aggregated rows hold only the dirty cells that have events;
//   without deduplication or time ranges, the replay of the cells == the whole replay restricted to them.

const ws = tempWorkspace('concord-dirty-cells-');
afterAll(() => ws.cleanup());
let runNo = 0;
const RUNS = Number(process.env.CONCORD_BACKFILL_RUNS ?? 60);
const opts = { numRuns: RUNS, interruptAfterTimeLimit: 45_000 };

const cellId = (def: WindowedPipeline, c: WindowCell) => windowCellId(c.windowStart, def.key, c.key);

/**
 * Differences between two replays' cells: the same cells, each the same but for the values, and the
 * values the same numbers as the store compares them (`sameValuesOf`: exact, HLL estimates included,
 * but for sums and averages of `double` fields, whose last bits follow the order DuckDB adds them in).
 */
function diffCells(def: WindowedPipeline, got: readonly ResultRecord[], expected: readonly ResultRecord[]): string[] {
  const byId = (rs: readonly ResultRecord[]) => new Map(rs.map((r) => [cellId(def, r as WindowResult), r as WindowResult]));
  const [g, e] = [byId(got), byId(expected)];
  const same = sameValuesOf(def);
  const rest = (r: WindowResult) => JSON.stringify({ ...resultToJson({ ...r, values: {} }), extra: r.extra ?? null });
  const out: string[] = [];
  for (const id of new Set([...g.keys(), ...e.keys()])) {
    const [a, b] = [g.get(id), e.get(id)];
    if (!a || !b || rest(a) !== rest(b) || !same(a.values, b.values)) {
      out.push(`cell ${JSON.stringify(id)}: got ${a ? JSON.stringify(resultToJson(a)) : 'none'}, expected ${b ? JSON.stringify(resultToJson(b)) : 'none'}`);
    }
  }
  return out;
}

/** The backfill's replay before this change: every cell of the dirty windows, merged into ranges, then cut to the dirty cells in JS. */
async function replayBefore(def: WindowedPipeline, dir: string, dirty: readonly WindowCell[]): Promise<ResultRecord[]> {
  const starts = [...new Set(dirty.map((d) => d.windowStart))].sort((a, b) => a - b);
  const timeRanges: { from: number; to: number }[] = [];
  for (const s of starts) {
    const last = timeRanges.at(-1);
    if (last && s <= last.to) last.to = Math.max(last.to, s + def.window.size);
    else timeRanges.push({ from: s, to: s + def.window.size });
  }
  const wanted = new Set(dirty.map((d) => cellId(def, d)));
  return (await replay(def, dir, { dedupe: true, timeRanges, exactDistinct: false })).filter((r) => wanted.has(cellId(def, r as WindowResult)));
}

/**
 * Random dirty cells over the replayed cells `all`: a random subset, plus cells without events (a
 * window a slide later, a key's null turned into "null" and a "null" into null), keys through JSON as
 * the store gives them back.
 */
function dirtyCells(g: fc.GeneratorValue, def: WindowedPipeline, all: readonly WindowResult[]): WindowCell[] {
  const out: WindowCell[] = [];
  const slide = def.window.kind === 'hopping' ? def.window.slide : def.window.size;
  for (const r of all) {
    if (g(fc.boolean)) out.push({ windowStart: r.windowStart, key: r.key });
    if (g(fc.integer, { min: 0, max: 9 }) === 0) out.push({ windowStart: r.windowStart + slide * g(fc.integer, { min: 1, max: 3 }), key: r.key });
    const flipped: KeyValues = {};
    for (const [k, v] of Object.entries(r.key)) flipped[k] = def.schema.fields[k]?.kind !== 'string' ? v : v === null ? 'null' : v === 'null' ? null : v;
    if (JSON.stringify(flipped) !== JSON.stringify(r.key) && g(fc.boolean)) out.push({ windowStart: r.windowStart, key: flipped });
  }
  return out.map((c) => JSON.parse(JSON.stringify(c)) as WindowCell);
}

/** Distinct (window, key) groups among the pairs the cells' replay aggregates, and its plain aggregation's rows. */
async function cellsRead(db: DuckDb, def: WindowedPipeline, dir: string, dirty: readonly WindowCell[]): Promise<{ pairs: number; main?: number }> {
  const timeRanges = dirty.map((d) => ({ from: d.windowStart, to: d.windowStart + def.window.size }));
  const plan = windowedPlan(def, sourceRelation(def, dir, { dedupe: true, timeRanges }), false, undefined, cellsFilter(def));
  const count = async (sql: string) => Number((await db.rows(`SELECT count(*) AS n FROM (${sql})`))[0]!.n);
  const pairs = await count(`SELECT DISTINCT ${plan.groupCols.join(', ')} FROM ${plan.assigned}`);
  return plan.main ? { pairs, main: await count('SELECT * FROM replay_main') } : { pairs };
}

async function checkCase(c: GeneratedCase, g: fc.GeneratorValue): Promise<string[]> {
  const registry = parseDefinitions(c.file, 'generated');
  const schema = registry.schema(c.schemaName);
  const dir = join(ws.dir, `run-${runNo++}`);
  await new ParquetArchive(dir, schema, { sketched: registry.sketchedFields(schema.name) }).write(memoryBatches('file:input.jsonl', c.lines, 1000));
  const problems: string[] = [];
  for (const name of c.pipelines) {
    const def = registry.pipeline(name);
    if (def.kind !== 'windowed') continue;
    const all = (await replay(def, dir, { exactDistinct: false })) as WindowResult[];
    const dirty = dirtyCells(g, def, all);
    if (dirty.length === 0) continue;
    const db = await DuckDb.open();
    try {
      const expected = await replayBefore(def, dir, dirty);
      const replayed = diffCells(def, await replayDirtyCells(def, dir, dirty, db), expected);
      if (replayed.length > 0) problems.push(`[${name}] dirty cells replayed:\n  ${replayed.join('\n  ')}\n  dirty ${JSON.stringify(dirty)}`);
      const read = await cellsRead(db, def, dir, dirty);
      if (read.pairs !== expected.length || (read.main !== undefined && read.main !== expected.length)) {
        problems.push(`[${name}] the replay aggregated ${read.pairs} cells (${read.main ?? '-'} rows), ${expected.length} dirty cells have events`);
      }
      // Neither deduplicated nor cut to time ranges: the cells of the whole replay, exact distinct counts too.
      const wanted = new Set(dirty.map((d) => cellId(def, d)));
      const whole = (await replay(def, dir)).filter((r) => wanted.has(cellId(def, r as WindowResult)));
      const cells = diffCells(def, await replay(def, dir, { cells: dirty }), whole);
      if (cells.length > 0) problems.push(`[${name}] cells of the whole replay:\n  ${cells.join('\n  ')}`);
    } finally {
      db.close();
    }
  }
  return problems;
}

describe('property: a backfill replays its dirty cells alone, with the values the replay of their windows gives them', () => {
  it(`random windowed definitions, archives and dirty cells (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(definitionCaseArb({ pipelineKinds: 'windowed' }), fc.gen(), async (c, g) => {
        const problems = await checkCase(c, g);
        if (problems.length > 0) throw new Error(`${problems.length} problem(s):\n${problems.slice(0, 10).join('\n')}\n\n${describeCase(c)}`);
      }),
      opts,
    );
  }, 300_000);

  it('no dirty cell: nothing is replayed', async () => {
    const c = fc.sample(definitionCaseArb({ pipelineKinds: 'windowed', maxPipelines: 1 }), { numRuns: 1, seed: 7 })[0]!;
    const registry = parseDefinitions(c.file, 'generated');
    const dir = join(ws.dir, `run-${runNo++}`);
    await new ParquetArchive(dir, registry.schema(c.schemaName), { sketched: registry.sketchedFields(c.schemaName) }).write(memoryBatches('file:input.jsonl', c.lines, 1000));
    const def = registry.pipeline(c.pipelines[0]!) as WindowedPipeline;
    expect(await replay(def, dir, { cells: [] })).toEqual([]);
  });
});
