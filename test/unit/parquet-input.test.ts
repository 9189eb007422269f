import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An archive's Parquet file given to `stream --input` (or `archive --input`) was read as lines: 43
// dead letters "not UTF-8" and a warning, exit 0, no event. It is refused, naming what reads it.
const ws = tempWorkspace('concord-parquet-input-');
afterAll(() => ws.cleanup());
const parquet = ws.file('part.parquet', []);
writeFileSync(parquet, Buffer.concat([Buffer.from('PAR1'), Buffer.from([0x15, 0x04, 0x15, 0xff, 0x00]), Buffer.from('PAR1')]));
const plain = ws.file('par1.jsonl', [{ event_id: 'PAR1', ts: 59_999, url: '/a', visitor_id: 'v1' }]);

async function drain(path: string): Promise<number> {
  let lines = 0;
  for await (const batch of readJsonlFile(path)) lines += batch.lines.length;
  return lines;
}

describe('a Parquet file as input', () => {
  it('is refused before a line is read, naming replay; a JSON-lines file is read', async () => {
    await expect(drain(parquet)).rejects.toThrow(ConfigError);
    await expect(drain(parquet)).rejects.toThrow(`input ${parquet} is a Parquet file (an archive's): this command reads JSON lines; \`concord replay --input DIR\` reads an archive`);
    expect(await drain(plain)).toBe(1);
  });
});
