import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { finalResults } from '../../reconcile/final-results.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import type { AlertResult, ResultRecord, WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An optional field (`level: int?`) added to the schema after part of the archive was written: the old
// files have no column for it and read it as null, as the stream reads an event without it. Stream,
// replay and an expectation computed here from the events agree on every use of the field, with old
// files only (no file has the column) and old + new files (some have it); reconcile explains everything.
const ws = tempWorkspace('concord-optional-added-');
afterAll(() => ws.cleanup());

const fields = { id: 'string', ts: 'timestamp', site: 'string' };
const timing = { max_out_of_orderness: 0, allowed_lateness: 0 };
const win = { window: { tumbling: '1m' }, ...timing };
const defs = (extra: Record<string, string>) => parseDefinitions({
  schemas: { s: { time: 'ts', id: 'id', fields: { ...fields, ...extra } } },
  pipelines: {
    stats: { input: 's', key: [], ...win, aggregates: {
      n: 'count', sum: ['sum', 'level'], avg: ['avg', 'level'], lo: ['min', 'level'], hi: ['max', 'level'],
      d: ['count_distinct', 'level'], ad: ['approx_distinct', 'level'] } },
    unset: { input: 's', key: [], ...win, where: [['level', 'is null']], aggregates: { n: 'count' } },
    threes: { input: 's', key: [], ...win, where: [['level', '=', 3]], aggregates: { n: 'count' } },
    by_level: { input: 's', key: 'level', ...win, aggregates: { n: 'count' } },
    burst: { input: 's', key: 'site', rule: { within: '1m', sum: 'level', more_than: 5, output: 'total' }, ...timing },
  },
}, 'x');
// The old files' schema: no `level`.
const before = parseDefinitions({ schemas: { s: { time: 'ts', id: 'id', fields } }, pipelines: { n: { input: 's', key: [], ...win, aggregates: { n: 'count' } } } }, 'x').pipeline('n').schema;
const after = defs({ level: 'int?' });

interface Ev { id: string; ts: number; site: string; level?: number | null }
// Old events (minutes 0-1) before the field existed; new ones (minutes 1-2), some without it or null.
const oldEvents: Ev[] = Array.from({ length: 18 }, (_, i) => ({ id: `o${String(i).padStart(2, '0')}`, ts: i * 5_000, site: i % 2 ? 'a' : 'b' }));
const newEvents: Ev[] = Array.from({ length: 18 }, (_, i) => ({
  id: `n${String(i).padStart(2, '0')}`, ts: 90_000 + i * 5_000, site: i % 3 ? 'a' : 'b',
  ...(i % 4 === 0 ? {} : { level: i % 7 === 0 ? null : i % 5 }),
}));
const lines = (es: Ev[]) => es.map((e) => JSON.stringify(e));

/** What every pipeline must give, computed from the events (absent = null, nulls skipped, SQL-like). */
function expected(def: PipelineDefinition, events: Ev[]): string[] {
  const level = (e: Ev) => e.level ?? null;
  if (def.kind === 'rule') {
    const out: string[] = [];
    for (const site of ['a', 'b']) {
      const mine = events.filter((e) => e.site === site).sort((x, y) => x.ts - y.ts || (x.id < y.id ? -1 : 1));
      let was = false;
      for (const e of mine) {
        const m = mine.filter((o) => o.ts > e.ts - 60_000 && (o.ts < e.ts || (o.ts === e.ts && o.id <= e.id))).reduce((s, o) => s + (level(o) ?? 0), 0);
        if (m > 5 && !was) out.push(JSON.stringify({ site, id: e.id, ts: e.ts, total: m }));
        was = m > 5;
      }
    }
    return out.sort();
  }
  const cells = new Map<string, Ev[]>();
  for (const e of events) {
    if (def.name === 'unset' && level(e) !== null) continue;
    if (def.name === 'threes' && level(e) !== 3) continue;
    const k = JSON.stringify([Math.floor(e.ts / 60_000) * 60_000, def.name === 'by_level' ? { level: level(e) } : {}]);
    cells.set(k, [...(cells.get(k) ?? []), e]);
  }
  return [...cells].map(([k, es]) => {
    const vs = es.map(level).filter((v): v is number => v !== null);
    const sum = vs.length ? vs.reduce((a, b) => a + b, 0) : null;
    const values = def.name !== 'stats' ? { n: es.length } : {
      n: es.length, sum, avg: sum === null ? null : round(sum / vs.length), lo: vs.length ? Math.min(...vs) : null, hi: vs.length ? Math.max(...vs) : null,
      d: new Set(vs).size, ad: new Set(vs).size, // HyperLogLog is exact at these cardinalities
    };
    return JSON.stringify([...JSON.parse(k), values]);
  }).sort();
}

const round = (v: number) => Math.round(v * 1e9) / 1e9;

/** Final rows in the expectation's form. */
function shape(rows: readonly ResultRecord[]): string[] {
  return rows.map((r) => {
    if (r.kind === 'alert') {
      const a = r as AlertResult;
      return JSON.stringify({ site: a.key.site, id: a.id, ts: a.ts, total: a.value });
    }
    const w = r as WindowResult;
    const values = Object.fromEntries(Object.entries(w.values).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));
    return JSON.stringify([w.windowStart, w.key, values]);
  }).sort();
}

describe('an optional field added to the schema after part of the archive was written', () => {
  for (const [name, withNew] of [['old files only', false], ['old and new files', true]] as const) {
    it(`${name}: stream == replay == expectation for every use of it; reconcile explains every cell`, async () => {
      const dir = join(ws.dir, withNew ? 'mixed' : 'old');
      const sketched = ['level'];
      await new ParquetArchive(dir, before).write(memoryBatches('file:old.jsonl', lines(oldEvents), 1000));
      if (withNew) await new ParquetArchive(dir, after.pipeline('stats').schema, { sketched }).write(memoryBatches('file:new.jsonl', lines(newEvents), 1000));
      const events = withNew ? [...oldEvents, ...newEvents] : oldEvents;
      for (const p of ['stats', 'unset', 'threes', 'by_level', 'burst']) {
        const def = after.pipeline(p);
        const streamed = await streamLines(def, lines(events));
        expect(streamed.lates).toEqual([]);
        expect(streamed.deadLetters).toEqual([]);
        // Reconcile first: its own reads meet the missing column before any replay has learnt of it.
        const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: dir });
        expect({ p, unexplained: report.unexplained, different: report.different }).toEqual({ p, unexplained: 0, different: 0 });
        const want = expected(def, events);
        // Old files only: no event has a level, so no event is 3 and no rule sum exceeds 5.
        expect(want.length > 0, p).toBe(withNew || !['threes', 'burst'].includes(p));
        expect(shape(streamed.final), p).toEqual(want);
        expect(shape(await replay(def, dir, { exactDistinct: false })), p).toEqual(want);
      }
    }, 60_000);
  }
});
