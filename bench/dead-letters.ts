/**
 * `GET /api/dead-letters` over many dead-letter files: what serve's DeadLetters does per call (the counts
 * of every schema, then a page of 50) over an archive's `_rejected/` written the way a running
 * `concord archive --from-kafka` writes it (a file per flush, `<topic>_<partition>-<first>-<last>.jsonl`,
 * dead letters as the decoder writes them). Run alone:
 *   tsx bench/dead-letters.ts [files] [letters per file] [--before DIR]
 * `--before DIR`: a copy of an older Concord (`git archive REV | tar -x -C DIR`, node_modules linked in),
 * whose serve/dead-letters.ts is measured in the same run, alternating. Files kept under
 * $TMPDIR/concord-dead-letters-bench. Figures in docs/benchmarks.md ("Dead letters by page").
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rejectedDir, sideFileName } from '../batch/archive-layout.ts';
import { seedRegistry } from '../examples/seed.ts';
import { deadLetterToJson, decodeLine } from '../schemas/decode.ts';
import { DeadLetters } from '../serve/dead-letters.ts';
import { JsonlWriter } from '../stream/sinks/jsonl-writer.ts';

/** The class measured: this tree's (with `view`, as the route calls it) or an older one's. */
type Letters = Pick<DeadLetters, 'counts' | 'page'> & Partial<Pick<DeadLetters, 'view'>>;

const args = process.argv.slice(2);
const beforeAt = args.indexOf('--before');
const before = beforeAt >= 0 ? resolve(args.splice(beforeAt, 2)[1]!) : undefined;
const files = Number(args[0] ?? 5_000);
const perFile = Number(args[1] ?? 10);
const registry = seedRegistry();
const clicks = registry.schema('clicks');

/** Bad input as a stream meets it: not JSON, a wrong type, a missing field. */
const badLine = (i: number) =>
  [`{"event_id":"e${i}","ts":`, JSON.stringify({ event_id: `e${i}`, ts: 'yesterday', user_id: `u${i}`, url: '/a' }), JSON.stringify({ event_id: `e${i}` })][i % 3]!;

async function archiveOf(): Promise<string> {
  const dir = join(tmpdir(), 'concord-dead-letters-bench', `${files}x${perFile}`);
  const folder = rejectedDir(dir, clicks);
  if (existsSync(join(folder, sideFileName(`concord.clicks_0-${(files - 1) * 1_000}-${(files - 1) * 1_000 + perFile - 1}`)))) return dir;
  for (let f = 0; f < files; f++) {
    const first = f * 1_000; // a flush of 1,000 records, `perFile` of them rejected
    const out = new JsonlWriter(join(folder, sideFileName(`concord.clicks_0-${first}-${first + perFile - 1}`)));
    for (let i = 0; i < perFile; i++) {
      const decoded = decodeLine(clicks, badLine(first + i), { source: 'concord.clicks:0', offset: first + i });
      if (!decoded.ok) out.write(deadLetterToJson(decoded.deadLetter, 'clicks'));
    }
    await out.close();
  }
  return dir;
}

/** One API call's work, as the route does it: every schema's count, then a page of 50 at `offset`. */
async function call(letters: Letters, offset: number): Promise<number> {
  if (letters.view) {
    const view = (await letters.view())!;
    return view.counts.get('clicks')! + (await view.page('clicks', offset, 50)).length;
  }
  const counts = await letters.counts();
  return (counts?.get('clicks') ?? 0) + (await letters.page('clicks', offset, 50)).length;
}

async function measure(letters: Letters, offset: number, rounds: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    await call(letters, offset);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[rounds >> 1]!;
}

const dir = await archiveOf();
const total = files * perFile;
const impls: [string, () => Promise<Letters>][] = [['after', async () => new DeadLetters(registry, dir)]];
if (before) {
  const { DeadLetters: Old } = (await import(join(before, 'serve', 'dead-letters.ts'))) as { DeadLetters: new (r: unknown, a: string) => Letters };
  impls.push(['before', async () => new Old(registry, dir)]);
}
console.log(`${files} files, ${total} dead letters; ms per call (counts + a page of 50), median`);
const rows: Record<string, Record<string, number>> = {};
for (const round of [0, 1]) {
  for (const [name, make] of round === 0 ? impls : [...impls].reverse()) {
    const letters = await make();
    const t = performance.now();
    await call(letters, 0);
    const r = (rows[name] ??= {});
    r.first = Math.min(r.first ?? Infinity, performance.now() - t);
    for (const [label, offset] of [['page 1', 0], ['middle', total >> 1], ['last page', total - 50]] as const) {
      r[label] = Math.min(r[label] ?? Infinity, await measure(letters, offset, 9));
    }
    // The call after an archiver's next flush (a new file; the folder changed just now, so it is listed again).
    const flushed = join(rejectedDir(dir, clicks), sideFileName(`concord.clicks_1-${round}-${round}`));
    await writeFile(flushed, `${JSON.stringify({ schema: 'clicks', source: 'concord.clicks:1', offset: round, field: null, reason: 'bench', raw: '' })}\n`);
    const t2 = performance.now();
    await call(letters, 0);
    r['after a flush'] = Math.min(r['after a flush'] ?? Infinity, performance.now() - t2);
    await rm(flushed);
  }
}
for (const [name, r] of Object.entries(rows)) console.log(name.padEnd(7), Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '));
if (rows.before) {
  const ratio = (k: string) => `${k} ${(rows.before![k]! / rows.after![k]!).toFixed(1)}x`;
  console.log('ratio  ', ['first', 'page 1', 'middle', 'last page', 'after a flush'].map(ratio).join(', '));
}
