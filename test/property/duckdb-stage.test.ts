import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DuckDbDriver } from '../../store/duckdb-driver.ts';
import type { SqlValue, StageColumn } from '../../store/sql-driver.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// DuckDB's staging packs rows by column (values joined by a separator, DuckDB splits them back, into a
// staging table or where a statement reads them) and falls back to value-by-value appends for a chunk
// whose text would not split back. Whatever the rows,
// the staging table must hold exactly them: hostile text (the separators themselves, a text equal to
// the null marker, empty strings), nulls, integers at their type's limits, chunks of either kind mixed.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(20, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 5));

const COLUMNS: StageColumn[] = [
  { name: 'ord', type: 'INTEGER' }, { name: 'a', type: 'TEXT' }, { name: 'b', type: 'BIGINT' }, { name: 'c', type: 'INTEGER' }, { name: 'd', type: 'TEXT' }];

const hostileText = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', ',', '"', '\\', '\n', '\u001e', '\u001f', 'é', '😀'), maxLength: 6 }),
  fc.constantFrom('', '\u001f', '\u001e', 'NULL', '\\N'),
  fc.string({ maxLength: 12 }),
);
const cleanText = fc.stringMatching(/^[a-z0-9 {}":,[\]]{0,12}$/);
const rowArb = (text: fc.Arbitrary<string>) => fc.tuple(
  fc.option(text, { nil: null }),
  fc.option(fc.oneof(fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0), fc.integer()), { nil: null }),
  fc.option(fc.oneof(fc.constantFrom(2_147_483_647, -2_147_483_648), fc.integer()), { nil: null }),
  fc.option(text, { nil: null }),
);

describe('DuckDB staging (packed by column)', () => {
  it(`stages exactly the rows given, over several chunks, hostile text or not (${RUNS} runs)`, async () => {
    const db = await DuckDbDriver.open(join(ws.dir, 'stage.duckdb'));
    try {
      await fc.assert(fc.asyncProperty(
        // Long runs of clean rows fill whole chunks; a hostile row sends its chunk value by value.
        fc.array(rowArb(cleanText), { minLength: 1, maxLength: 30 }),
        fc.array(fc.oneof({ weight: 4, arbitrary: rowArb(cleanText) }, { weight: 1, arbitrary: rowArb(hostileText) }), { maxLength: 40 }),
        fc.boolean(),
        async (clean, mixed, long) => {
          // Some runs repeat the clean rows past the 4,096-row chunk boundary, so clean chunks and one
          // with hostile rows come in the same stage.
          const rows: SqlValue[][] = [];
          const repeat = long ? Math.ceil(4_200 / clean.length) : 1;
          for (let k = 0; k < repeat; k++) for (const r of clean) rows.push([rows.length, ...r]);
          for (const r of mixed) rows.push([rows.length, ...r]);
          // Filled into a staging table, and read where used (a relation over the packed chunks).
          const [staged, relation] = await db.transaction(async (tx) => {
            const stage = await tx.stage('p', 'probe', COLUMNS, rows);
            const a = await tx.query(`SELECT ord, a, b, c, d FROM ${stage} ORDER BY ord`);
            const read = await tx.stageRelation!('p', 'probe_read', COLUMNS, rows);
            return [a, await tx.query(`SELECT ord, a, b, c, d FROM ${read} s ORDER BY ord`)];
          });
          for (const stored of [staged, relation]) expect(stored.map((r) => [Number(r.ord), r.a, r.b === null ? null : Number(r.b), r.c, r.d])).toEqual(rows);
        }), { numRuns: RUNS });
    } finally {
      await db.close();
    }
  });

  it('a stage used twice in one transaction holds only the second use; a value that is no integer is refused, not rounded', async () => {
    const db = await DuckDbDriver.open(join(ws.dir, 'twice.duckdb'));
    try {
      const count = await db.transaction(async (tx) => {
        await tx.stage('p', 'probe', COLUMNS, [[1, 'x', 1, 1, 'y'], [2, 'x', 2, 2, 'y']]);
        const stage = await tx.stage('p', 'probe', COLUMNS, [[3, 'z', 3, 3, null]]);
        return tx.query(`SELECT ord, a, d FROM ${stage}`);
      });
      expect(count).toEqual([{ ord: 3, a: 'z', d: null }]);
      await expect(db.transaction((tx) => tx.stage('p', 'probe', COLUMNS, [[4, 'x', 1.5, 1, 'y']]))).rejects.toThrow(/1\.5|integer/i);
    } finally {
      await db.close();
    }
  });
});
