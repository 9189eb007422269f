import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';

describe('JsonlWriter', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'concord-jsonl-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes exactly one JSON line per value, in order, whatever the flushes, line sizes and characters', async () => {
    // Lines from a few bytes to past the 1 MiB chunk, any Unicode (surrogate pairs, lone surrogates), flushes anywhere.
    const value = fc.oneof(
      { weight: 8, arbitrary: fc.jsonValue() },
      { weight: 4, arbitrary: fc.record({ url: fc.string({ unit: 'binary', maxLength: 40 }), views: fc.integer() }) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '😀', '\u2028'), fc.integer({ min: 1, max: 700_000 })).map(([c, n]) => ({ big: c.repeat(n) })) },
    );
    const step = fc.oneof({ weight: 6, arbitrary: value.map((v) => ({ v })) }, { weight: 1, arbitrary: fc.constantFrom('flush' as const, 'maybeFlush' as const) });
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
      const path = join(dir, `out-${run++}.jsonl`);
      const writer = new JsonlWriter(path);
      const expected: string[] = [];
      for (const s of steps) {
        if (s === 'flush') await writer.flush();
        else if (s === 'maybeFlush') await writer.maybeFlush();
        else {
          writer.write(s.v);
          expected.push(JSON.stringify(s.v));
        }
      }
      await writer.close();
      const text = await readFile(path, 'utf8');
      expect(text).toBe(expected.map((l) => `${l}\n`).join(''));
      expect(writer.count).toBe(expected.length);
      await rm(path);
    }), { numRuns: 60 });
  });
});
