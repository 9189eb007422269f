import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inputRecords, notJsonWarning, type Sent } from '../../cli/commands/produce.ts';
import { clicksSchema } from '../../examples/seed.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
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
    const sent: Sent = { lines: 0, unkeyed: 0, keyless: 0, blank: 0, notJson: 0, firstNotJson: null, unsent: 0, firstUnsent: null, seconds: 0 };
    const records: OutRecord[] = [];
    for await (const b of readJsonlFile(file, { maxLineBytes: 200, batchLines: 2 })) records.push(...inputRecords(clicksSchema, 't', b, 0, b.lines.length, sent));
    expect(records.map((r) => r.key)).toEqual(['/a', '/a']);
    expect(sent).toMatchObject({ blank: 2, unkeyed: 0, keyless: 0, unsent: 2, firstUnsent: 'offset 3: not UTF-8: the original bytes are kept in base64' });
  });

  it('counts the lines without a required key field: a misspelt path of the key sends them all to one partition, to be dead-lettered', async () => {
    // The summary said "2 keyed null" while 3,890 of 4,095 lines had no user_id at the misspelt "usr.id":
    // keyed alike (the absent key), all in one partition, each a dead letter `user_id: is required`.
    const file = join(dir, 'nested.jsonl');
    const event = (i: number, user: unknown) => JSON.stringify({ req_id: `r${i}`, ts: 1_795_392_000_000 + i, ...(user === undefined ? {} : { user }) });
    writeFileSync(file, [event(0, { id: 'u1' }), event(1, { id: 'u2' }), event(2, undefined), event(3, { id: null }), 'not json', event(5, 'u1')].join('\n'));
    const schemaOf = (required: boolean) => parseDefinitions({
      schemas: { requests: { time: 'ts', id: 'req_id', key: 'user_id', fields: { req_id: 'string', ts: 'timestamp', user_id: required ? 'string' : 'string?' }, paths: { user_id: 'user.id' } } },
      pipelines: { n: { input: 'requests', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
    }, 'd.json').schema('requests');
    const count = async (required: boolean) => {
      const sent: Sent = { lines: 0, unkeyed: 0, keyless: 0, blank: 0, notJson: 0, firstNotJson: null, unsent: 0, firstUnsent: null, seconds: 0 };
      for await (const b of readJsonlFile(file)) inputRecords(schemaOf(required), 't', b, 0, b.lines.length, sent);
      return sent;
    };
    expect(await count(true)).toMatchObject({ unkeyed: 2, keyless: 2 });
    expect(await count(false)).toMatchObject({ unkeyed: 2, keyless: 0 }); // an optional key: its own group, no dead letter
  });

  it('warns loudly when most lines are no JSON: a CSV file sent as it is', async () => {
    // Before: "sent 40 lines ...; 40 keyed null (not a JSON object or a bad key value: ...)", exit 0, the
    // only sign that every event of the file would be a dead letter.
    const file = join(dir, 'orders.csv');
    writeFileSync(file, ['event_id,ts,url,visitor_id', ...Array.from({ length: 39 }, (_, i) => `c${i},1795392000000,/a,v`)].join('\n'));
    const sent: Sent = { lines: 0, unkeyed: 0, keyless: 0, blank: 0, notJson: 0, firstNotJson: null, unsent: 0, firstUnsent: null, seconds: 0 };
    for await (const b of readJsonlFile(file)) sent.lines += inputRecords(clicksSchema, 't', b, 0, b.lines.length, sent).length;
    expect(sent).toMatchObject({ lines: 40, notJson: 40, unkeyed: 40 });
    expect(notJsonWarning(sent, 'orders.csv')).toBe(`!! 40 of 40 lines (100%) of orders.csv are not JSON (the first at offset 0: ${sent.firstNotJson!.slice('offset 0: '.length)}): ` +
      'the workers will dead-letter each of them. The input must be JSON lines, one JSON object per line: a CSV file, one JSON array or pretty-printed JSON? ' +
      'Give it as JSON lines (a JSON array: `jq -c \'.[]\' FILE`)');
    expect(sent.firstNotJson).toMatch(/^offset 0: Unexpected token/);
    // A few bad lines among events: the summary's count says enough.
    expect(notJsonWarning({ ...sent, notJson: 20 }, 'orders.csv')).toBeNull();
  });
});
