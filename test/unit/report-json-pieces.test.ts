import { describe, expect, it } from 'vitest';
import { jsonPieces, toCsv, type DayReport } from '../../cli/commands/report.ts';

// `report --format json|csv` built the whole day as one string: ~400 bytes a cell in JSON, so a day of
// about 1.3M cells passed V8's string limit (~512 MB, "Invalid string length") and every day was held
// twice (the rows, then their text). The text now goes out a row at a time, the same bytes as before.
const status = {} as DayReport['pipelines'][number]['status'];
const row = (i: number) => ({
  window_start: new Date(Date.UTC(2026, 10, 23, 0, i)).toISOString(), window_end: null, key: { url: `/p"${i}\n`, n: null },
  values: { views: i, list: [1, { a: 'rows' }] }, revision: i % 3, provenance: 'realtime', generation: 0, definition_version: 'v1',
});
const report: DayReport = {
  date: '2026-11-23',
  pipelines: [
    { pipeline: 'a', status, empty: false, reconciliation: null, definition_versions: { v1: 500 }, definition_version: 'v1', rows: Array.from({ length: 500 }, (_, i) => row(i)) },
    { pipeline: '"rows": x', status, empty: true, reconciliation: null, definition_versions: {}, definition_version: 'v1', rows: [] },
    { pipeline: 'c', status, empty: false, reconciliation: null, definition_versions: { v1: 1 }, definition_version: 'v1', rows: [row(7)] },
  ],
};

const collect = async (pieces: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const p of pieces) out.push(p);
  return out;
};

describe('report --format json', () => {
  it('is the same text as one JSON.stringify of the report, made a row at a time', async () => {
    const pieces = await collect(jsonPieces(report));
    const whole = JSON.stringify({ ...report, pipelines: report.pipelines.map((p) => ({ ...p, status: { ...p.status, watermark_at: null } })) }, null, 2) + '\n';
    expect(pieces.join('')).toBe(whole);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(whole.length / 100);
  });

  // status.watermark was epoch milliseconds where the API and the rest of the report say instants in ISO.
  it('says the day\'s watermark in ISO too (watermark_at), keeping the epoch milliseconds', async () => {
    const at = Date.UTC(2026, 10, 23, 12, 59, 37, 286);
    const one: DayReport = { date: '2026-11-23', pipelines: [{ ...report.pipelines[1]!, status: { ...status, watermark: at } }] };
    const json = JSON.parse((await collect(jsonPieces(one))).join(''));
    expect(json.pipelines[0].status).toMatchObject({ watermark: at, watermark_at: '2026-11-23T12:59:37.286Z' });
  });

  it('of a day without pipelines', async () => {
    expect((await collect(jsonPieces({ date: '2026-11-23', pipelines: [] }))).join('')).toBe(JSON.stringify({ date: '2026-11-23', pipelines: [] }, null, 2) + '\n');
  });

  it('csv is unchanged but for the definition version closing each row', async () => {
    const lines = (await toCsv(report)).split('\n');
    expect(lines).toHaveLength(1 + 501 + 1);
    expect(lines[1]).toBe('a,2026-11-23T00:00:00.000Z,,"{""url"":""/p\\""0\\n"",""n"":null}","{""views"":0,""list"":[1,{""a"":""rows""}]}",0,realtime,0,v1');
  });
});
