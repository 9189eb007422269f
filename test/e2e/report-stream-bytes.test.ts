import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { REPORT_DATE, fillReportDay } from '../fixtures/report-day.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `concord report --format csv|json` reads the day's rows a page at a time as it writes them (it held
// them all first). The bytes must not change: these digests are of the output of the code before
// (commit 72434f3, rows naming their definition version, `report` on this fixture's day; both stores gave the same bytes), for every page
// size (997 rows a page: pages end inside a window, between cells of one window start).
// md --cells the same (it held the day's rows for its table; digest of the output of 1202aee).
const GOLDEN = {
  md: { sha256: 'bea985f80876f2417c7a225442d051198ce0c3d9e766894d7f70114190843b91', bytes: 381_471 },
  csv: { sha256: 'daacbf54f0228caf9fe2b70b393f012c9e7d0f8c7d3fe4ddf6127e93b289e2e7', bytes: 792_308 },
  json: { sha256: 'd5812b89bd140df5a46c9046ff45540a2766038dadafe14cb9968c4471acccf1', bytes: 2_158_022 },
};

const ws = tempWorkspace('concord-report-bytes-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const digest = (bytes: Buffer) => ({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
/**
 * json since 2026-12-07: each pipeline's status also says its watermark in ISO (`watermark_at`, its last
 * field); without those lines the bytes are the golden ones, so nothing else changed.
 */
const WATERMARK_AT = /,\n\s*"watermark_at": (?:null|"[^"]*")/g;
/**
 * json since 2026-12-07 (night): each pipeline also says where the stream is against the day
 * (`stream_reached`, `stream_passed`, after `empty`); without those lines the bytes are the golden ones.
 */
const STREAM_AT_DAY = /\n\s*"stream_(?:reached|passed)": (?:true|false),/g;
/** md since 2026-12-07: the report opens with the answer in words (`## In short`, up to the next heading). */
const IN_SHORT = /## In short\n[\s\S]*?\n(?=## )/;
const asBefore = (format: string, text: string) => {
  if (format === 'md') {
    expect(text).toMatch(IN_SHORT);
    return Buffer.from(text.replace(IN_SHORT, ''), 'utf8');
  }
  if (format !== 'json') return Buffer.from(text, 'utf8');
  const pipelines = (JSON.parse(text) as { pipelines: unknown[] }).pipelines.length;
  expect(text.match(WATERMARK_AT)?.length ?? 0).toBe(pipelines);
  expect(text.match(STREAM_AT_DAY)?.length ?? 0).toBe(2 * pipelines);
  return Buffer.from(text.replace(WATERMARK_AT, '').replace(STREAM_AT_DAY, ''), 'utf8');
};

describe.each([
  { name: 'DuckDB', store: () => ({ url: `duckdb:${join(ws.dir, 'store.duckdb')}`, env: {} as Record<string, string> }) },
  { name: 'PostgreSQL', store: () => { const schema = schemas.next('rb'); return { url: PG_URL, env: { CONCORD_STORE_SCHEMA: schema } as Record<string, string> }; } },
])('report --format csv|json|md --cells of a day: the same bytes as before, a page at a time ($name)', ({ store }) => {
  const { url, env } = store();
  beforeAll(() => fillReportDay(url, env.CONCORD_STORE_SCHEMA), 120_000);

  for (const format of ['md', 'csv', 'json'] as const) {
    const args = ['report', '--date', REPORT_DATE, '--format', format, ...(format === 'md' ? ['--cells'] : []), '--store', url];
    it(`${format === 'md' ? 'md --cells' : format}: to stdout and to --output, default pages and 997 rows a page`, () => {
      for (const page of ['', '997']) {
        const r = concord(args, { ...env, CONCORD_REPORT_PAGE_ROWS: page });
        expect(r.code, r.stderr).toBe(0);
        expect(digest(asBefore(format, r.stdout)), `stdout, page ${page || 'default'}`).toEqual(GOLDEN[format]);
      }
      const file = join(ws.dir, `report-${format}-${env.CONCORD_STORE_SCHEMA ?? 'duckdb'}.${format}`);
      const w = concord([...args, '--output', file], { ...env, CONCORD_REPORT_PAGE_ROWS: '997' });
      expect(w.code, w.stderr).toBe(0);
      expect(digest(asBefore(format, readFileSync(file, 'utf8'))), '--output').toEqual(GOLDEN[format]);
    }, 120_000);
  }
});
