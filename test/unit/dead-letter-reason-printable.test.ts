import { describe, expect, it } from 'vitest';
import { clicksSchema } from '../../examples/seed.ts';
import { decodeLine } from '../../schemas/decode.ts';

// A dead letter's reason quotes the refused value (or JSON.parse's excerpt of the line), and `concord
// stream` and `concord run` print the first one: an event holding ESC ... (an OSC sequence setting the
// terminal's title, colours) reached the operator's terminal as it was.
const ESC = '\u001b]0;PWNED\u0007\u001b[31mRED\u009b2J\u202eevil';
const position = { source: 'file:x.jsonl', offset: 0 };
const event = (over: Record<string, unknown>) => JSON.stringify({ event_id: 'e1', ts: '2026-11-23T10:00:00Z', url: '/', visitor_id: 'v', ...over });

describe('dead-letter reasons are printable', () => {
  it.each([
    ['a bad timestamp', event({ ts: `bad${ESC}` }), 'ts'],
    ['a wrong type', event({ url: 1, visitor_id: [ESC] }), 'url'],
    ['a string where a number is wanted', JSON.stringify({ event_id: 'e1', ts: `1${ESC}`, url: '/', visitor_id: 'v' }), 'ts'],
    ['malformed JSON quoting the line', ESC, null],
    ['malformed JSON inside a string', `{"event_id":"${ESC}`, null],
  ])('%s: no control or format character, each written \\uXXXX', (_what, line, field) => {
    const d = decodeLine(clicksSchema, line, position);
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.deadLetter.field).toBe(field);
    expect(d.deadLetter.reason).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    expect(d.deadLetter.raw).toBe(line); // the record itself stays as it came
  });

  it('the escaped reason still names what was refused', () => {
    const d = decodeLine(clicksSchema, event({ ts: `bad${ESC}` }), position);
    expect(!d.ok && d.deadLetter.reason).toBe('ts: "bad\\u001b]0;PWNED\\u0007\\u001b[31mRED\\u009b2J\\u202eevil" is not an ISO-8601 timestamp or epoch milliseconds');
  });
});

// The same data reaches the terminal through reconcile's Markdown summary: a late event's id (and the
// cells' JSON, which escapes C0 characters but not C1 ones or a right-to-left override) went into a
// table cell as it was.
describe('Markdown cells are printable', () => {
  it('control and format characters are written \\uXXXX; a line break stays <br>', async () => {
    const { mdCell } = await import('../../reconcile/markdown.ts');
    expect(mdCell(`id${ESC}`)).toBe('id\\u001b\\]0;PWNED\\u0007\\u001b\\[31mRED\\u009b2J\\u202eevil');
    expect(mdCell('a\r\nb\tc')).toBe('a<br>b\\u0009c');
    expect(mdCell('{"k":"\u009b"}')).not.toMatch(/[\p{Cc}\p{Cf}]/u);
  });
});
