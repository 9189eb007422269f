import fc from 'fast-check';
import { readdirSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { updateOffsetLedger } from '../../batch/archive-offsets.ts';
import { partitionGlob, schemaDir } from '../../batch/archive-layout.ts';
import { DuckDb, quoteString } from '../../batch/duckdb.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { mergeRuns, type OffsetRuns } from '../../batch/offset-runs.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { findGaps, readRejected } from '../../reconcile/evidence.ts';
import type { LineBatch } from '../../sources/source.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The ledger of archived offsets (batch/archive-offsets.ts) kept across random additions and removals
// (a file moved out as to _corrupt/, a file replaced under its name, a whole day deleted as retention
// does) gives the runs and the gap count of a read of every file, and reads only the files of the days
// that changed: a removal costs its day, a deleted day nothing (before: every file of the archive).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const schema = pageViewsPerMinute.schema;
const RUNS = Math.max(10, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 8));
const DAY = 86_400_000, HOUR = 3_600_000, T0 = Date.UTC(2026, 10, 20);
let runNo = 0;

const opArb = fc.oneof(
  // A flush of `count` offsets of a source into one hour folder; `skip`: offsets the archive lacks (a gap),
  // `back`: the flush starts this far back (offsets archived again: a repeat across files and days).
  fc.record({ kind: fc.constant('add' as const), day: fc.integer({ min: 0, max: 3 }), hour: fc.integer({ min: 0, max: 2 }), source: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 1, max: 6 }), skip: fc.integer({ min: 0, max: 3 }), back: fc.constantFrom(0, 0, 0, 2, 5) }),
  fc.record({ kind: fc.constant('moveOut' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('deleteDay' as const), day: fc.integer({ min: 0, max: 3 }) }),
  fc.constant({ kind: 'reconcile' as const }),
);

/** Every file's offsets, read whole: the runs per source the ledger must give. */
async function wholeArchiveRuns(dir: string, db: DuckDb): Promise<Record<string, OffsetRuns>> {
  if ((await listArchiveFiles(dir, schema)).length === 0) return {};
  const c = await db.columns(`SELECT DISTINCT _source AS s, _offset AS o FROM read_parquet(${quoteString(partitionGlob(dir, schema))}, hive_partitioning = false) ORDER BY s, o`);
  const out: Record<string, OffsetRuns> = {};
  (c.s ?? []).forEach((s, i) => (out[String(s)] = mergeRuns(out[String(s)] ?? [], [[Number(c.o![i]), Number(c.o![i])]])));
  return out;
}

/** The old gap count: per source, last - first + 1 - distinct offsets (no dead letters here). */
async function wholeArchiveGaps(dir: string, db: DuckDb): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if ((await listArchiveFiles(dir, schema)).length === 0) return out;
  const c = await db.columns(`SELECT _source AS s, max(_offset) - min(_offset) + 1 - count(DISTINCT _offset) AS n
    FROM read_parquet(${quoteString(partitionGlob(dir, schema))}, hive_partitioning = false) GROUP BY _source`);
  (c.s ?? []).forEach((s, i) => Number(c.n![i]) > 0 && out.set(String(s), Number(c.n![i])));
  return out;
}

const dayName = (d: number) => `dt=${new Date(T0 + d * DAY).toISOString().slice(0, 10)}`;
const dayOfPath = (path: string) => /(dt=[^/]*)\/hour=/.exec(path)![1]!;

describe('the ledger of archived offsets under additions and removals', () => {
  it('gives every file\'s runs and gap count, reading only the days that changed', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
      const dir = join(ws.dir, `run-${runNo++}`), root = schemaDir(dir, schema);
      const next = [0, 0];
      let stamp = 0, fileNo = 0;
      const changed = new Set<string>(), touchedFolders = new Set<string>();
      const write = async (day: number, hour: number, source: number, offsets: number[], stem: string) => {
        const lines = offsets.map((o) => JSON.stringify({ event_id: `e${source}-${o}`, ts: T0 + day * DAY + hour * HOUR + o, url: '/a', visitor_id: 'v' }));
        const batch: LineBatch = { source: `clicks:${source}`, firstOffset: offsets[0]!, lines, offsets };
        await new ParquetArchive(dir, schema).write((async function* () { yield batch; })(), { mode: 'append', stem });
        changed.add(dayName(day));
        touchedFolders.add(join(root, dayName(day), `hour=${String(hour).padStart(2, '0')}`));
      };
      const db = await DuckDb.open();
      try {
        for (const op of [...ops, { kind: 'reconcile' as const }]) {
          const files = await listArchiveFiles(dir, schema);
          if (op.kind === 'add') {
            const first = Math.max(0, next[op.source]! + op.skip - op.back);
            const offsets = Array.from({ length: op.count }, (_, i) => first + i);
            next[op.source] = Math.max(next[op.source]!, offsets.at(-1)! + 1);
            await write(op.day, op.hour, op.source, offsets, `clicks_${op.source}-${offsets[0]}-${offsets.at(-1)}-${fileNo++}`);
          } else if (op.kind === 'moveOut' && files.length > 0) {
            const f = files[op.pick % files.length]!;
            renameSync(f, join(dir, `moved-${fileNo++}.parquet`));
            changed.add(dayOfPath(f));
            touchedFolders.add(join(f, '..'));
          } else if (op.kind === 'replace' && files.length > 0) {
            // Another flush's offsets under the same name, in the same hour folder.
            const f = files[op.pick % files.length]!, m = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/clicks_(\d)-/.exec(f)!;
            rmSync(f);
            const offsets = Array.from({ length: op.count }, (_, i) => next[Number(m[3])]! + 1 + i);
            next[Number(m[3])] = offsets.at(-1)! + 1;
            await write(Math.round((Date.parse(m[1]!) - T0) / DAY), Number(m[2]), Number(m[3]), offsets, f.slice(f.lastIndexOf('/') + 1, -'.parquet'.length));
          } else if (op.kind === 'deleteDay') {
            rmSync(join(root, dayName(op.day)), { recursive: true, force: true });
          } else if (op.kind === 'reconcile') {
            // Folders changed since the last reconcile get a time of their own, long enough ago to be trusted.
            for (const folder of touchedFolders) {
              const t = new Date(T0 - 1_000_000 + ++stamp * 1_000);
              try { utimesSync(folder, t, t); } catch { /* deleted since */ }
            }
            touchedFolders.clear();
            const { runs, read } = await updateOffsetLedger(dir, schema, db);
            expect(Object.fromEntries(runs)).toEqual(await wholeArchiveRuns(dir, db));
            for (const path of read) expect(changed).toContain(dayOfPath(path));
            changed.clear();
            expect(await findGaps(dir, schema, db, await readRejected(dir, schema))).toEqual(await wholeArchiveGaps(dir, db));
            // Brought up to date: nothing more to read.
            expect((await updateOffsetLedger(dir, schema, db)).read).toEqual([]);
          }
        }
      } finally {
        db.close();
      }
    }), { numRuns: RUNS });
  }, 300_000);
});
