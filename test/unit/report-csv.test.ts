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

const row = { window_start: '2026-11-23T00:00:00.000Z', window_end: '2026-11-23T00:01:00.000Z', revision: 0, provenance: 'reconciled', generation: 1 };

describe('report --format csv', () => {
  it('parses back, with a strict RFC 4180 reader, to exactly the values written (CR, LF, quotes, commas)', () => {
    const names = ['cr\rname', 'lf\nname', 'crlf\r\nname', 'q"uote,comma', '=1+2', 'plain'];
    const report: DayReport = {
      date: '2026-11-23',
      pipelines: names.map((pipeline) => ({
        pipeline, empty: false, reconciliation: null, definition_versions: { v1: 1 }, definition_version: 'v1', status: {} as DayReport['pipelines'][number]['status'],
        rows: [{ ...row, key: { who: `k\r${pipeline}` }, values: { n: 1 } }],
      })),
    };
    const records = parseCsv(toCsv(report));
    expect(records).toHaveLength(1 + names.length);
    for (const r of records) expect(r).toHaveLength(8);
    expect(records.slice(1).map((r) => r[0])).toEqual(names);
    expect(records.slice(1).map((r) => JSON.parse(r[3]!).who)).toEqual(names.map((n) => `k\r${n}`));
  });
});
