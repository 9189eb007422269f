import fc from 'fast-check';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveInputFile } from '../../batch/file-archive.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { reconcileDay, UnexplainedDifferencesError } from '../../reconcile/reconcile-day.ts';
import { openStore } from '../../store/open-store.ts';
import { concord, concordOk } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A file source grows (a log still written): `stream --store` read it, then the user archives it twice as it
// grows and reconciles only after the second archiving. The lines appended after the stream read the file
// were counted `unexplained` (a day cell holding read and appended events) and `missing_window` (a minute only
// appended lines reach), and nothing was published: reconcile knew which archive files came after the
// day's first reconcile, not how far the stream had read. The stream's reach per source (store table
// stream_reach) names them `archive_added`, however many archivings brought them.
const ws = tempWorkspace('concord-reach-');
afterAll(() => ws.cleanup());
const DAY = '2026-11-23';
const P = 'page_views_per_minute';
const T0 = Date.UTC(2026, 10, 23, 10);
const URLS = ['/a', '/b', '/c'];
const STREAMED = 3000;
// Line i: 3 s after line i-1; every tenth line appended after the stream's read (from `streamed` on) is late, back near the start.
const click = (i: number, streamed: number) => {
  const ts = i >= streamed && i % 10 === 0 ? T0 + (i - streamed) * 3000 : T0 + i * 3000;
  return JSON.stringify({ event_id: `e${i}`, ts: new Date(ts).toISOString(), url: URLS[i % 3], visitor_id: `v${i % 7}` });
};
const lines = (from: number, to: number, streamed = STREAMED) => Array.from({ length: to - from }, (_, j) => `${click(from + j, streamed)}\n`).join('');

type Report = { different: number; unexplained: number; causes: Record<string, number> };

/** The (minute, url) cells lines `from` to `to` (exclusive) of the file fall in: counted from the raw text. */
function cellsOfLines(input: string, from: number, to = Infinity): number {
  const events = readFileSync(input, 'utf8').split('\n').filter((l) => l !== '').slice(from, to).map((l) => JSON.parse(l) as { ts: string; url: string });
  return new Set(events.map((e) => `${Math.floor(Date.parse(e.ts) / 60_000)} ${e.url}`)).size;
}

function setUp(name: string) {
  const dir = join(ws.dir, name);
  const input = join(dir, 'day.jsonl'), archive = join(dir, 'archive'), reports = join(dir, 'reports');
  const store = `duckdb:${join(dir, 'store.duckdb')}`;
  mkdirSync(dir, { recursive: true });
  const archiveIt = () => concordOk(['archive', '--schema', 'clicks', '--input', input, '--dir', archive]);
  const reconcile = () => {
    const r = concord(['reconcile', '--date', DAY, '--pipeline', P, '--archive', archive, '--store', store, '--report-dir', reports]);
    const report = (JSON.parse(readFileSync(join(reports, DAY, `${P}.json`), 'utf8')) as { report: Report }).report;
    return { ...r, report };
  };
  return { dir, input, store, archiveIt, reconcile };
}

describe('reconcile after a grown file was archived more than once since the stream read it', () => {
  it.each([
    ['archived as streamed, then grown and archived again', [STREAMED, 5000]],
    ['grown before the first archiving too', [4000, 5000]],
  ] as const)('%s: every line appended after the stream read the file is archive_added', (_what, [first, second]) => {
    const { dir, input, store, archiveIt, reconcile } = setUp(`case-${first}`);
    writeFileSync(input, lines(0, STREAMED));
    concordOk(['stream', '--pipeline', P, '--input', input, '--output', join(dir, 'out.jsonl'), '--store', store]);
    appendFileSync(input, lines(STREAMED, first));
    archiveIt();
    appendFileSync(input, lines(first, second));
    expect(archiveIt().stderr).toContain(`its lines ${first}-${second - 1} were added`);
    const r = reconcile();
    expect(r.code, r.stderr).toBe(0);
    // Hand count: 3000 read lines fill minutes 0-149 (450 cells); lines 3000-4999 add minutes 150-249 (300
    // cells) and two late events to each of minutes 0-99, of two urls (200 cells): 500.
    const touched = cellsOfLines(input, STREAMED);
    expect(touched).toBe(500);
    expect(r.report).toMatchObject({ different: touched, unexplained: 0, causes: { archive_added: touched, missing_window: 0 } });
  });
});

// A rule: users new in the lines appended after the stream read the file raise alerts the stream never
// saw (each user's country changes with each of its transactions: more than 3 within 10 minutes).
describe('a rule day of a grown file archived twice after the stream read it', () => {
  it('names every alert only the appended lines raise archive_added', () => {
    const dir = join(ws.dir, 'rule');
    mkdirSync(dir);
    const input = join(dir, 'day.jsonl'), archive = join(dir, 'archive'), reports = join(dir, 'reports'), store = `duckdb:${join(dir, 'store.duckdb')}`;
    const COUNTRIES = ['DE', 'FR', 'IT', 'ES', 'NL'];
    // 40 users in the first 600 lines, 40 others in the lines after; one transaction every 3 s.
    const txns = (from: number, to: number) => Array.from({ length: to - from }, (_, j) => from + j).map((i) => `${JSON.stringify({
      txn_id: `t${i}`, ts: new Date(T0 + i * 3000).toISOString(), user_id: `u${i < 600 ? i % 40 : 40 + (i % 40)}`, country: COUNTRIES[Math.floor(i / 40) % 5], amount: '1.00',
    })}\n`).join('');
    const archiveIt = () => concordOk(['archive', '--schema', 'transactions', '--input', input, '--dir', archive]);
    writeFileSync(input, txns(0, 600));
    concordOk(['stream', '--pipeline', 'fraud_multi_country', '--input', input, '--output', join(dir, 'out.jsonl'), '--store', store]);
    archiveIt();
    appendFileSync(input, txns(600, 900));
    archiveIt();
    appendFileSync(input, txns(900, 1200));
    archiveIt();
    const r = concord(['reconcile', '--date', DAY, '--pipeline', 'fraud_multi_country', '--archive', archive, '--store', store, '--report-dir', reports]);
    expect(r.code, r.stderr).toBe(0);
    // Counted from the raw lines: a user's country changes with each of its transactions (2 min apart), so
    // every user passes 3 countries within 10 minutes and stays so: one alert per user, as the stream
    // raised for the users it read; the alerts the archive adds are the users only appended lines hold.
    const users = (from: number, to: number) => new Set(readFileSync(input, 'utf8').split('\n').filter((l) => l !== '').slice(from, to).map((l) => (JSON.parse(l) as { user_id: string }).user_id));
    const read = users(0, 600);
    const added = [...users(600, 1200)].filter((u) => !read.has(u)).length;
    const streamed = readFileSync(join(dir, 'out.jsonl'), 'utf8').split('\n').filter((l) => l !== '').length;
    const report = (JSON.parse(readFileSync(join(reports, DAY, 'fraud_multi_country.json'), 'utf8')) as { report: Report }).report;
    expect([streamed, added]).toEqual([read.size, 40]);
    expect(report).toMatchObject({ different: added, unexplained: 0, causes: { archive_added: added } });
  });
});

// Any order of growing, archiving and reconciling after the stream read the file: no reconcile leaves a
// difference unexplained, and each names every cell the archived appended lines reach archive_added. The
// stream runs as the CLI (what writes the reach); archivings and reconciles in this process, as their commands do.
describe('property: growth, archivings and reconciles in any order after the stream read the file', () => {
  const registry = seedRegistry();
  const schema = registry.schema('clicks');
  const def = registry.pipeline(P);
  const stepArb = fc.oneof(fc.integer({ min: 1, max: 400 }).map((grow) => ({ grow })), fc.constant('archive' as const), fc.constant('reconcile' as const));
  let run = 0;
  it('no reconcile finds an unexplained difference', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 6 }), async (steps) => {
      const dir = join(ws.dir, `prop-${run++}`);
      mkdirSync(dir);
      const input = join(dir, 'day.jsonl'), archiveDir = join(dir, 'archive'), url = `duckdb:${join(dir, 'store.duckdb')}`;
      const streamed = 600;
      writeFileSync(input, lines(0, streamed, streamed));
      concordOk(['stream', '--pipeline', P, '--input', input, '--output', join(dir, 'out.jsonl'), '--store', url]);
      let written = streamed, archived = 0, reconciles = 0;
      // Each ordering ends archived and reconciled.
      for (const step of [...steps, 'archive' as const, 'reconcile' as const]) {
        if (step === 'archive') {
          await archiveInputFile(new ParquetArchive(archiveDir, schema, { sketched: registry.sketchedFields(schema.name) }), archiveDir, schema, input);
          archived = written;
        } else if (step === 'reconcile') {
          if (archived === 0) continue; // nothing archived yet: reconcile refuses the day (its own tests)
          const store = await openStore(url, { registry });
          const rec = await reconcileDay({ def, date: DAY, store, archiveDir, jobId: `reach-${run}-${reconciles++}` })
            .catch((error: unknown) => (error instanceof UnexplainedDifferencesError ? error.reconciliation : Promise.reject(error)))
            .finally(() => store.close());
          const touched = cellsOfLines(input, streamed, archived);
          expect(rec.report).toMatchObject({ different: touched, unexplained: 0, causes: { archive_added: touched } });
        } else {
          appendFileSync(input, lines(written, written + step.grow, streamed));
          written += step.grow;
        }
      }
    }), { numRuns: 8 }); // a stream process each
  }, 300_000);
});
