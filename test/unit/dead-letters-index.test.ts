import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectedDir } from '../../batch/archive-layout.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { DeadLetters } from '../../serve/dead-letters.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const registry = seedRegistry();
const letter = (i: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ schema: 'clicks', source: 'kafka:clicks:0', offset: i, field: i % 2 ? 'ts' : null, reason: `bad ${i}`, raw: `x${i}`, ...extra });

/** Dead-letter folders with what such files may hold: blank lines, CRLF, no last newline, a line that is no JSON, long raws, empty files. */
function fixture(root: string): { clicks: string; transactions: string } {
  const clicks = rejectedDir(root, registry.schema('clicks'));
  const transactions = rejectedDir(root, registry.schema('transactions'));
  mkdirSync(clicks, { recursive: true });
  mkdirSync(transactions, { recursive: true });
  const put = (folder: string, name: string, text: string) => writeFileSync(join(folder, name), text);
  put(clicks, 'c-0300.jsonl', [letter(300), letter(301), letter(302)].join('\n') + '\n');
  put(clicks, 'c-0000.jsonl', [letter(0), '', letter(1), '   ', letter(2, { raw: 'y'.repeat(2_500) })].join('\n') + '\n');
  put(clicks, 'c-0100.jsonl', '');
  put(clicks, 'c-0150.jsonl', '\n\n');
  put(clicks, 'c-0200.jsonl', [letter(200), 'not json at all', letter(201, { field: undefined })].join('\r\n') + '\r\n');
  put(clicks, 'c-0250.jsonl', [letter(250), letter(251)].join('\n')); // no newline after the last line
  put(clicks, 'c-0400.jsonl.tmp', letter(400) + '\n'); // a writer's half-written file
  put(clicks, 'notes.txt', 'not a dead-letter file\n');
  for (let f = 0; f < 6; f++) put(clicks, `d-${f}.jsonl`, Array.from({ length: f * 3 }, (_, i) => letter(1_000 + f * 100 + i)).join('\n') + '\n');
  put(transactions, 't-0.jsonl', [letter(7, { schema: 'transactions' }), letter(8, { schema: 'transactions' })].join('\n') + '\n');
  return { clicks, transactions };
}

/** Everything the API serves from DeadLetters: the counts, and pages of every size at every offset. */
async function served(letters: DeadLetters): Promise<unknown[]> {
  const out: unknown[] = [[...(await letters.counts())!.entries()]];
  for (const schema of ['clicks', 'transactions']) {
    for (const limit of [1, 2, 5, 50]) {
      for (let offset = 0; offset <= 70; offset++) out.push([schema, offset, limit, await letters.page(schema, offset, limit)]);
    }
  }
  return out;
}

const digest = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex');

/** The folder's mtime set `hoursAgo` back: a change long settled (the index trusts an unchanged mtime then). */
const settle = (folder: string, hoursAgo: number) => {
  const t = new Date(Date.now() - hoursAgo * 3_600_000);
  utimesSync(folder, t, t);
};

describe('dead letters: an index per folder, the same responses', () => {
  // Digests of what serve/dead-letters.ts before the index (1202aee: every file stat'ed per call, a page
  // read from the first file) served on this fixture, before and after each change below.
  const OLD = [
    'f57cb58060162e385173055cf4274522331a948fb2ce9b922e2386c92b00e79c',
    '5917f17e2868212830577eecb644205e9e5143ef8b3b94b868eb4632f5683f04',
    '5917f17e2868212830577eecb644205e9e5143ef8b3b94b868eb4632f5683f04',
    'e238e6abf2de9b634aa8d1f2add66b202ecd11e7bb4b5605b9474066a17e3c20',
    '04a34d5abef03d518836702ec55182df1c00ab9fd78a1d21a3a4785b6c190b33',
    '9cdc957efb69c2f408130e9a7b4801f8a74b9e3ae5ee648cd1925f35aff08272',
  ];

  it('serves what the walk over every file served, as files come, go and are replaced', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concord-dlq-index-'));
    const { clicks } = fixture(dir);
    const letters = new DeadLetters(registry, dir);
    const seen: string[] = [];
    settle(clicks, 5);
    seen.push(digest(await served(letters)));
    // An archiver's next flush, settled or not.
    writeFileSync(join(clicks, 'c-0350.jsonl'), [letter(350), letter(351)].join('\n') + '\n');
    seen.push(digest(await served(letters)));
    settle(clicks, 4);
    seen.push(digest(await served(letters)));
    // A source archived again: its file replaced by a rename (inode, size and mtime all new).
    writeFileSync(join(clicks, 'c-0000.jsonl.tmp'), letter(9) + '\n');
    renameSync(join(clicks, 'c-0000.jsonl.tmp'), join(clicks, 'c-0000.jsonl'));
    settle(clicks, 3);
    seen.push(digest(await served(letters)));
    // Half-written flushes removed on a rejoin; the folder gone.
    rmSync(join(clicks, 'd-4.jsonl'));
    settle(clicks, 2);
    seen.push(digest(await served(letters)));
    rmSync(clicks, { recursive: true });
    seen.push(digest(await served(letters)));
    expect(seen).toEqual(OLD);
  });

  it('reads a file once: a settled folder is not walked again, a new file is the one file read', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concord-dlq-index-'));
    const { clicks } = fixture(dir);
    settle(clicks, 5);
    const letters = new DeadLetters(registry, dir);
    await served(letters);
    const indexed = letters.filesIndexed;
    expect(indexed).toBe(13); // the 12 .jsonl files of clicks and the one of transactions
    await served(letters);
    expect(letters.filesIndexed).toBe(indexed);
    writeFileSync(join(clicks, 'c-0350.jsonl'), letter(350) + '\n');
    settle(clicks, 4);
    expect((await letters.counts())!.get('clicks')).toBe(61);
    expect(letters.filesIndexed).toBe(indexed + 1);
    expect((await letters.page('clicks', 10, 2)).map((r) => r.offset)).toEqual([302, 350]);
  });

  it('lists again while a change is too recent to trust its mtime (a file added in the same clock tick)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concord-dlq-index-'));
    const { clicks } = fixture(dir);
    const letters = new DeadLetters(registry, dir);
    const n = (await letters.counts())!.get('clicks')!;
    // Same mtime as at the listing, but the listing was racy: the new file is seen.
    const mtime = new Date(Date.now());
    utimesSync(clicks, mtime, mtime);
    await letters.counts();
    writeFileSync(join(clicks, 'c-0360.jsonl'), letter(360) + '\n');
    utimesSync(clicks, mtime, mtime);
    expect((await letters.counts())!.get('clicks')).toBe(n + 1);
  });
});
