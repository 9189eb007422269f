import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inputRecords, type Sent } from '../../cli/commands/produce.ts';
import { clicksSchema } from '../../examples/seed.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import type { OutRecord } from '../../stream/kafka/client.ts';

// `produce --input` over a hostile file: a line that is not UTF-8 or over the line limit had become ''
// and was counted among "blank lines skipped", so it vanished (the file streamed gave it a dead letter);
// a first line opened by a byte-order mark was keyed null, so its url landed on another partition than
// its other events.
const dir = mkdtempSync(join(tmpdir(), 'concord-produce-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('produce --input: each line sent, skipped as blank, or said not sent', () => {
  it('keys a line opened by a byte-order mark by its url, and says which lines never became text', async () => {
    const click = (i: number, url = '/a') => JSON.stringify({ event_id: `c${i}`, ts: 1_795_392_000_000 + i, url, visitor_id: 'v' });
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, Buffer.concat([
      Buffer.from(`\ufeff${click(0)}\r\n\n   \n`),
      Buffer.from('{"event_id":"x","url":"/\xff"}\n', 'latin1'),
      Buffer.from(`${click(4, `/${'u'.repeat(300)}`)}\n${click(5)}`),
    ]));
    const sent: Sent = { lines: 0, unkeyed: 0, blank: 0, unsent: 0, firstUnsent: null, seconds: 0 };
    const records: OutRecord[] = [];
    for await (const b of readJsonlFile(file, { maxLineBytes: 200, batchLines: 2 })) records.push(...inputRecords(clicksSchema, 't', b, 0, b.lines.length, sent));
    expect(records.map((r) => r.key)).toEqual(['/a', '/a']);
    expect(sent).toMatchObject({ blank: 2, unkeyed: 0, unsent: 2, firstUnsent: 'offset 3: not UTF-8: the original bytes are kept in base64' });
  });
});
