import { describe, expect, it } from 'vitest';
import { toCsv, type DayReport } from '../../cli/commands/report.ts';

// `concord report --format csv`: a field holding a CR (a pipeline name, a provenance) was written
// unquoted, so a strict RFC 4180 reader ended the record there.

/** A strict RFC 4180 reader: CRLF, LF or CR end a record only outside quotes; a quote inside an unquoted field is an error. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && !/[,\r\n]/.test(text[i]!)) throw new Error(`text after a closing quote at ${i}`);
    } else {
      while (i < text.length && !/[,\r\n]/.test(text[i]!)) {
        if (text[i] === '"') throw new Error(`quote in an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    record.push(field);
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '\r' && text[i + 1] === '\n') i += 2;
    else i++;
    records.push(record);
    record = [];
  }
  return records;
}

const row = { window_start: '2026-11-23T00:00:00.000Z', window_end: '2026-11-23T00:01:00.000Z', revision: 0, provenance: 'reconciled', generation: 1, definition_version: 'v1' };

describe('report --format csv', () => {
  it('parses back, with a strict RFC 4180 reader, to exactly the values written (CR, LF, quotes, commas)', async () => {
    const names = ['cr\rname', 'lf\nname', 'crlf\r\nname', 'q"uote,comma', '=1+2', 'plain'];
    const report: DayReport = {
      date: '2026-11-23',
      pipelines: names.map((pipeline) => ({
        pipeline, empty: false, reconciliation: null, definition_versions: { v1: 1 }, definition_version: 'v1', status: {} as DayReport['pipelines'][number]['status'],
        rows: [{ ...row, key: { who: `k\r${pipeline}` }, values: { n: 1 } }],
      })),
    };
    const records = parseCsv(await toCsv(report));
    expect(records).toHaveLength(1 + names.length);
    for (const r of records) expect(r).toHaveLength(9);
    // A name a spreadsheet would run as a formula is written with a leading ' (the next test).
    expect(records.slice(1).map((r) => r[0])).toEqual(names.map((n) => (n.startsWith('=') ? `'${n}` : n)));
    expect(records.slice(1).map((r) => JSON.parse(r[3]!).who)).toEqual(names.map((n) => `k\r${n}`));
  });

  // CSV injection (OWASP): a cell starting with = + - @, a tab or a CR is a formula to Excel and
  // LibreOffice, quoted or not; `=HYPERLINK("http://evil","x")` as a pipeline name was written as it was.
  it('a text a spreadsheet would run as a formula starts with a quote; JSON keys and values, numbers, other text as they are', async () => {
    const hostile = ['=HYPERLINK("http://evil","x")', '+1+1', '-2', '@SUM(1)', '\tx', '\r=1'];
    const report: DayReport = {
      date: '2026-11-23',
      pipelines: [...hostile, 'plain'].map((pipeline) => ({
        pipeline, empty: false, reconciliation: null, definition_versions: { v1: 1 }, definition_version: 'v1', status: {} as DayReport['pipelines'][number]['status'],
        rows: [{ ...row, window_start: '-000001-01-01T00:00:00.000Z', key: { url: '=cmd|\' /C calc\'!A0' }, values: { n: -1 } }],
      })),
    };
    const records = parseCsv(await toCsv(report)).slice(1);
    expect(records.map((r) => r[0])).toEqual([...hostile.map((n) => `'${n}`), 'plain']);
    for (const r of records) {
      for (const cell of r) expect(cell, JSON.stringify(r)).not.toMatch(/^[=+\-@\t\r]/);
      expect(r[1]).toBe("'-000001-01-01T00:00:00.000Z");
      expect(JSON.parse(r[3]!)).toEqual({ url: "=cmd|' /C calc'!A0" });
      expect(JSON.parse(r[4]!)).toEqual({ n: -1 });
    }
  });
});
