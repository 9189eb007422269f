import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A gzip-compressed input was read as lines: each chunk of its bytes a dead letter "not UTF-8", and
// `stream` ended with exit 0 and 0 events. It is refused, saying how to give it.
const ws = tempWorkspace('concord-gzip-input-');
afterAll(() => ws.cleanup());
const plain = ws.file('clicks.jsonl', [{ event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' }]);
const gz = `${plain}.gz`;
writeFileSync(gz, gzipSync(Buffer.from(`${JSON.stringify({ event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' })}\n`)));

async function drain(path: string): Promise<number> {
  let lines = 0;
  for await (const batch of readJsonlFile(path)) lines += batch.lines.length;
  return lines;
}

describe('a gzip-compressed input', () => {
  it('is refused before a line is read, with what to do; a plain file of the same lines is read', async () => {
    await expect(drain(gz)).rejects.toThrow(ConfigError);
    await expect(drain(gz)).rejects.toThrow(`input ${gz} is gzip-compressed: decompress it, or pipe it in (zcat ${gz} | concord ... --input -)`);
    expect(await drain(plain)).toBe(1);
  });

  it('concord stream says so in one line and exits 2 (it exited 0 with every line rejected)', () => {
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', gz, '--output', ws.file('out.jsonl')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`concord stream: input ${gz} is gzip-compressed: decompress it, or pipe it in (zcat ${gz} | concord ... --input -)\n`);
  }, 60_000);
});
