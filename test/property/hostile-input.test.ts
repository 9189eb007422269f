import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { deadLetterToJson } from '../../schemas/decode.ts';
import type { DeadLetter, ResultRecord } from '../../schemas/results.ts';
import { resultToJson } from '../../schemas/results.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import { RAW_PREFIX_BYTES } from '../../sources/line-limits.ts';
import { runStream } from '../../stream/runtime.ts';
import { clickStreamArb } from '../fixtures/arbitraries.ts';
import { hostileLineArb, type HostileLine } from '../fixtures/hostile-lines.ts';

// Hostile bytes through `stream` and `archive`: zero crashes, every rejected line a dead letter with a
// reason (bounded, original bytes kept), the counters equal to what was sent, and the results over the
// valid part equal to a run without the bad lines. CI: ~5k hostile lines here (and 5k more through a Kafka
// worker, kafka-hostile-records.test.ts); `npm run chaos` (full): ~50k here (CONCORD_FUZZ_RUNS=1000) + 50k.
const RUNS = Number(process.env.CONCORD_FUZZ_RUNS ?? 100);
const LIMIT = 4_096;
const dir = mkdtempSync(join(tmpdir(), 'concord-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T = String(Date.UTC(2026, 10, 24, 10));

interface Case { file: string; clean: string; rejected: HostileLine[]; accepted: number }

/** Valid clicks with hostile lines in between; odd (valid) lines take the time of the click before them. */
function writeCase(n: number, clicks: Record<string, unknown>[], hostile: HostileLine[], at: number[]): Case {
  const all: Buffer[] = [], clean: Buffer[] = [];
  let h = 0, lastTs = String(clicks[0]!.ts);
  clicks.forEach((c, i) => {
    while (h < hostile.length && at[h]! <= i) {
      const x = hostile[h++]!;
      const bytes = x.kind === 'odd' ? Buffer.from(x.bytes.toString('utf8').replace(T, lastTs)) : x.bytes;
      all.push(bytes);
      if (x.kind === 'odd') clean.push(bytes);
    }
    const b = Buffer.from(JSON.stringify(c));
    all.push(b);
    clean.push(b);
    lastTs = String(c.ts);
  });
  for (; h < hostile.length; h++) if (hostile[h]!.kind === 'rejected') all.push(hostile[h]!.bytes);
  const file = join(dir, `in-${n}.jsonl`), cleanFile = join(dir, `clean-${n}.jsonl`);
  writeFileSync(file, Buffer.concat(all.flatMap((b) => [b, Buffer.from('\n')])));
  writeFileSync(cleanFile, Buffer.concat(clean.flatMap((b) => [b, Buffer.from('\n')])));
  return { file, clean: cleanFile, rejected: hostile.filter((x, i) => x.kind === 'rejected' && (i < h)), accepted: clean.length };
}

async function stream(file: string) {
  const results: unknown[] = [], dead: DeadLetter[] = [];
  const stats = await runStream({
    pipelines: [pageViewsPerMinute, uniqueVisitors5m()],
    source: readJsonlFile(file, { maxLineBytes: LIMIT, batchLines: 7 }),
    onResult: (r: ResultRecord) => results.push(resultToJson(r)),
    onLate: () => undefined,
    onDeadLetter: (d) => dead.push(d),
  });
  return { results, dead, stats };
}

const caseArb = fc.record({
  clicks: clickStreamArb({ maxEvents: 40 }),
  hostile: fc.array(hostileLineArb(LIMIT), { minLength: 1, maxLength: 100 }),
}).chain(({ clicks, hostile }) => fc.record({
  clicks: fc.constant(clicks), hostile: fc.constant(hostile),
  at: fc.array(fc.integer({ min: 0, max: clicks.length }), { minLength: hostile.length, maxLength: hostile.length }).map((a) => a.sort((x, y) => x - y)),
}));

describe('hostile bytes (fuzz)', () => {
  it(`stream: ${RUNS} runs of up to 100 hostile lines among valid clicks`, async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(caseArb, async ({ clicks, hostile, at }) => {
      const c = writeCase(n++, clicks, hostile, at);
      const dirty = await stream(c.file), clean = await stream(c.clean);
      expect(dirty.results).toEqual(clean.results);
      expect(dirty.stats.events).toBe(c.accepted);
      expect(dirty.stats.deadLetters).toBe(c.rejected.length);
      expect(dirty.dead.map((d) => d.reason.length > 0)).toEqual(c.rejected.map(() => true));
      for (const [i, d] of dirty.dead.entries()) {
        const out = deadLetterToJson(d, 'clicks');
        expect(String(out.raw).length).toBeLessThanOrEqual(RAW_PREFIX_BYTES);
        const sent = c.rejected[i]!;
        if (sent.what === 'not UTF-8') {
          expect(out.raw_encoding).toBe('base64');
          expect(Buffer.from(String(out.raw), 'base64')).toEqual(sent.bytes);
        }
        if (sent.what === 'over the line limit') expect(out).toMatchObject({ raw_truncated: true, raw_bytes: sent.bytes.length });
      }
      // Nothing polluted the prototypes.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }), { numRuns: RUNS });
  }, 600_000);

  it('archive: the same lines rejected with their reasons, the valid ones archived', async () => {
    let n = 1_000_000;
    await fc.assert(fc.asyncProperty(caseArb, async ({ clicks, hostile, at }) => {
      const c = writeCase(n++, clicks, hostile, at);
      const out = join(dir, `archive-${n}`);
      const stats = await new ParquetArchive(out, pageViewsPerMinute.schema).write(readJsonlFile(c.file, { maxLineBytes: LIMIT }));
      expect(stats.events).toBe(c.accepted);
      expect(stats.deadLetters).toBe(c.rejected.length);
    }), { numRuns: Math.max(3, Math.round(RUNS / 20)) });
  }, 600_000);
});
