import fc from 'fast-check';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { updateOffsetLedger } from '../../batch/archive-offsets.ts';
import { DuckDb } from '../../batch/duckdb.ts';
import { lateCandidateFiles } from '../../batch/late-candidate-files.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { fraudMultiCountry, pageViewsPerMinute } from '../../examples/seed.ts';
import { checkDefinition, type PipelineDefinition } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { archiveJudgement } from '../../reconcile/partition-lateness.ts';
import type { LineBatch } from '../../sources/source.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The late set without a late log is judged per partition over the whole archive (reconcile/
// partition-lateness.ts). With the ledger's spans per file and source (offsets, earliest and latest time)
// only the files that may hold a late event, and those whose offsets overlap theirs, are read
// (batch/late-candidate-files.ts). Over random archives of three partitions over three days, flushes
// split into hour files, events disordered by seconds, minutes, hours and a day, flushes archived out of
// offset order, archived twice, and files moved out: the same late events, W each met, and skipped
// windows as the judgement over every file. Tumbling and hopping page views (B = 30 s), the fraud rule (B = 0).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(10, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 8));
const DAY = 86_400_000, T0 = Date.UTC(2026, 10, 20);
const hoppingViews = checkDefinition({ ...pageViewsPerMinute, name: 'page_views_2m_every_1m', window: hopping(120_000, 60_000) });
const DEFS: PipelineDefinition[] = [pageViewsPerMinute, hoppingViews, fraudMultiCountry()];
let runNo = 0;

const eventArb = fc.record({
  step: fc.integer({ min: 0, max: 3 * 3_600_000 }), // time on from the partition's previous event
  behind: fc.constantFrom(0, 0, 0, 0, 10_000, 45_000, 600_000, 3 * 3_600_000, DAY), // how far behind its partition's latest
  user: fc.constantFrom('u1', 'u2'),
  country: fc.constantFrom('FR', 'DE'),
});
const flushArb = fc.record({ partition: fc.integer({ min: 0, max: 2 }), events: fc.array(eventArb, { minLength: 1, maxLength: 8 }) });

function line(def: PipelineDefinition, p: number, o: number, ts: number, e: { user: string; country: string }): string {
  return def.kind === 'rule'
    ? JSON.stringify({ txn_id: `t${p}-${o}`, ts, user_id: e.user, country: e.country, amount: 10 })
    : JSON.stringify({ event_id: `e${p}-${o}`, ts, url: '/a', visitor_id: e.user });
}

describe.each(DEFS.map((def) => ({ def })))('late events judged from the files the spans cannot clear: $def.name', ({ def }) => {
  it('equal the judgement over every file', async () => {
    await fc.assert(fc.asyncProperty(fc.array(flushArb, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 2 }), fc.array(fc.nat(), { maxLength: 2 }), async (flushes, order, again, removed) => {
      const dir = join(ws.dir, `run-${runNo++}`);
      const next = [0, 0, 0], latest = [T0, T0, T0];
      const batches: { batch: LineBatch; stem: string }[] = [];
      for (const f of flushes) {
        const lines: string[] = [], offsets: number[] = [];
        for (const e of f.events) {
          latest[f.partition] = Math.min(latest[f.partition]! + e.step, T0 + 3 * DAY - 1);
          const ts = Math.max(T0, latest[f.partition]! - e.behind);
          const o = next[f.partition]!++;
          lines.push(line(def, f.partition, o, ts, e));
          offsets.push(o);
        }
        batches.push({ batch: { source: `t:${f.partition}`, firstOffset: offsets[0]!, lines, offsets }, stem: `t_${f.partition}-${offsets[0]}-${offsets.at(-1)}` });
      }
      // Archived out of offset order now and then (a partition's flushes are sequential, but archives are
      // also written by `archive --input`), some twice under another name.
      for (const [i, k] of order.entries()) if (i < batches.length) [batches[i], batches[k % batches.length]] = [batches[k % batches.length]!, batches[i]!];
      for (const k of again) if (batches.length > 0) batches.push({ ...batches[k % batches.length]!, stem: `${batches[k % batches.length]!.stem}-again` });
      const db = await DuckDb.open();
      try {
        for (const [i, { batch, stem }] of batches.entries()) {
          await new ParquetArchive(dir, def.schema).write((async function* () { yield batch; })(), { mode: 'append', stem });
          // The ledger brought up to date part way (a reconcile between flushes), so later files are added to it.
          if (i === Math.floor(batches.length / 2)) await updateOffsetLedger(dir, def.schema, db);
        }
        for (const [i, k] of removed.entries()) {
          const files = await listArchiveFiles(dir, def.schema);
          if (files.length > 1) renameSync(files[k % files.length]!, join(dir, `moved-${i}.parquet`));
        }
        const fromSpans = await archiveJudgement(dir, def, db);
        const everyFile = await archiveJudgement(dir, def); // no connection: no ledger, every file
        expect(fromSpans).toEqual(everyFile);
      } finally {
        db.close();
      }
    }), { numRuns: RUNS });
  }, 300_000);
});

describe('the files read for late events', () => {
  it('are none for an archive in order, and the disordered file with the files its offsets overlap', async () => {
    const dir = join(ws.dir, 'in-order'), def = pageViewsPerMinute;
    const write = (p: number, offsets: number[], ts: (o: number) => number) => new ParquetArchive(dir, def.schema).write((async function* () {
      yield { source: `t:${p}`, firstOffset: offsets[0]!, lines: offsets.map((o) => JSON.stringify({ event_id: `e${p}-${o}`, ts: ts(o), url: '/a', visitor_id: 'v' })), offsets };
    })(), { mode: 'append', stem: `t_${p}-${offsets[0]}` });
    // Two partitions, a flush an hour, in order across three hours (each flush one hour file, 40 s > B).
    for (const p of [0, 1]) for (const h of [0, 1, 2]) await write(p, [h * 10, h * 10 + 1, h * 10 + 2], (o) => T0 + h * 3_600_000 + (o % 10) * 20_000);
    const db = await DuckDb.open();
    try {
      const { spans } = await updateOffsetLedger(dir, def.schema, db);
      expect(lateCandidateFiles(spans!, def.watermark.maxOutOfOrderness).read).toEqual([]);
      expect((await archiveJudgement(dir, def, db)).late).toEqual([]);
      // Partition 1's next flush holds an event of hour 0 (late): its hour-0 file, and the flush's hour-3
      // file its offsets overlap, are read; nothing of partition 0, nor partition 1's earlier files.
      await write(1, [30, 31, 32], (o) => (o === 31 ? T0 + 5_000 : T0 + 3 * 3_600_000 + (o % 10) * 20_000));
      const plan = lateCandidateFiles((await updateOffsetLedger(dir, def.schema, db)).spans!, def.watermark.maxOutOfOrderness);
      expect(plan.read.map((f) => f.slice(f.indexOf('dt='))).sort()).toEqual(['dt=2026-11-20/hour=00/t_1-30.parquet', 'dt=2026-11-20/hour=03/t_1-30.parquet']);
      expect((await archiveJudgement(dir, def, db)).late.map((l) => l.position)).toEqual([{ source: 't:1', offset: 31 }]);
    } finally {
      db.close();
    }
  });
});
