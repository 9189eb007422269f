import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { seedPipelines, seedRegistry } from '../../examples/seed.ts';
import { openStore } from '../../store/open-store.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Issue 4 through the CLI on the embedded store (DuckDB): stream -> store, archive, reconcile the day
// (corrected version published atomically), report == dashboard query == replay, then late data after
// the reconciliation -> dirty cells -> backfill touches exactly those.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const DATE = '2026-11-23';
const store = () => `duckdb:${join(ws.dir, 'store.duckdb')}`;
const archive = () => join(ws.dir, 'archive');
type Row = { window_start: string; key: Record<string, unknown>; values: Record<string, unknown>; provenance: string; generation: number };
type Report = { pipelines: { pipeline: string; rows: Row[]; status: { liveGeneration: number; dirty: number }; reconciliation: { status: string; report: { unexplained: number; different: number; metrics: Record<string, number> } } | null }[] };

function report(): Report {
  const r = concord(['report', '--date', DATE, '--format', 'json', '--store', store()]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

const cells = (rows: Row[]) => new Map(rows.map((r) => [`${r.window_start}|${JSON.stringify(r.key)}`, JSON.stringify(r.values)]));

/** What `concord replay` says for the day: window start|key -> values, as the report shows them. */
function replayed(pipeline: string): Map<string, string> {
  const out = join(ws.dir, `${pipeline}.replay.jsonl`);
  expect(concord(['replay', '--pipeline', pipeline, '--input', archive(), '--output', out]).code).toBe(0);
  const def = seedPipelines.find((p) => p.name === pipeline)!;
  const m = new Map<string, string>();
  for (const line of readFileSync(out, 'utf8').trim().split('\n')) {
    const x = JSON.parse(line) as Record<string, unknown>;
    if (def.kind === 'windowed') {
      if (!String(x.window_start).startsWith(DATE)) continue;
      m.set(`${String(x.window_start)}|${JSON.stringify(Object.fromEntries(def.key.map((k) => [k, x[k]])))}`, JSON.stringify(Object.fromEntries(def.aggregates.map((a) => [a.output, x[a.output]]))));
    } else {
      m.set(`${String(x.ts)}|${JSON.stringify({ [def.key]: x[def.key] })}`, JSON.stringify({ [def.schema.idField]: x[def.schema.idField], [def.rule.output]: x[def.rule.output], late: false }));
    }
  }
  return m;
}

describe('the single source of truth through the CLI (embedded store)', () => {
  beforeAll(() => {
    const day = generateDay({ seed: 5, date: DATE, clicks: 20_000, transactions: 3_000, fraudRings: 4, lateFraction: 0.01, invalidFraction: 0.002 });
    writeFileSync(join(ws.dir, 'clicks.jsonl'), day.clicks.join('\n') + '\n');
    writeFileSync(join(ws.dir, 'transactions.jsonl'), day.transactions.join('\n') + '\n');
    for (const def of seedPipelines) {
      const r = concord(['stream', '--pipeline', def.name, '--input', join(ws.dir, `${def.schema.name}.jsonl`), '--output', join(ws.dir, `${def.name}.rt.jsonl`), '--store', store()]);
      expect(r.code, r.stderr).toBe(0);
    }
    for (const schema of ['clicks', 'transactions']) {
      expect(concord(['archive', '--schema', schema, '--input', join(ws.dir, `${schema}.jsonl`), '--dir', archive()]).code).toBe(0);
    }
  }, 120_000);

  it("the store keeps each pipeline's watermark as the input took it (not the last emitted row's, not +infinity)", () => {
    const before = report() as unknown as { pipelines: { pipeline: string; status: { watermark: number | null } }[] };
    for (const p of before.pipelines) {
      const def = seedPipelines.find((d) => d.name === p.pipeline)!;
      const lines = readFileSync(join(ws.dir, `${def.schema.name}.jsonl`), 'utf8').split('\n');
      let maxTs = -Infinity;
      lines.forEach((line, i) => {
        const d = line.trim() === '' ? undefined : decodeLine(def.schema, line, { source: 'f', offset: i });
        if (d?.ok) maxTs = Math.max(maxTs, d.event[def.schema.timeField] as number);
      });
      // Flink's bounded out-of-orderness: W = max ts - B - 1 (B = 30 s by default).
      expect(p.status.watermark, p.pipeline).toBe(maxTs - def.watermark.maxOutOfOrderness - 1);
    }
  });

  // A day nothing ran for read "Day provisional ...; live version 0 (realtime, not reconciled yet)", as if
  // its numbers were coming; /api/days/D says `empty`.
  it('the report of a day with no data says so (md), and `empty` (json); a day with data is not empty', () => {
    const md = concord(['report', '--date', '2026-11-20', '--store', store(), '--pipeline', 'page_views_per_minute']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain('## page_views_per_minute\n\nNo data for this day: nothing was streamed into the store or reconciled for it.');
    expect(md.stdout).not.toContain('not reconciled yet');
    const json = concord(['report', '--date', '2026-11-20', '--store', store(), '--format', 'json']);
    expect((JSON.parse(json.stdout) as { pipelines: { empty: boolean }[] }).pipelines.map((p) => p.empty)).toEqual(seedPipelines.map(() => true));
    expect((report() as unknown as { pipelines: { empty: boolean }[] }).pipelines.map((p) => p.empty)).toEqual(seedPipelines.map(() => false));
  });

  // `stream`'s help names CONCORD_STORE, but only --store made it write: late data streamed with the
  // variable alone silently never reached the store.
  it('stream writes to the store CONCORD_STORE names, as its help says', () => {
    const named = `duckdb:${join(ws.dir, 'from-env.duckdb')}`;
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', join(ws.dir, 'clicks.jsonl'), '--output', join(ws.dir, 'from-env.jsonl')], { CONCORD_STORE: named });
    expect(r.code, r.stderr).toBe(0);
    const rep = concord(['report', '--date', DATE, '--store', named, '--pipeline', 'page_views_per_minute', '--format', 'json']);
    expect(rep.code, rep.stderr).toBe(0);
    expect((JSON.parse(rep.stdout) as Report).pipelines[0]!.rows.length).toBeGreaterThan(0);
  });

  it('reconcile explains 100% of differences, publishes the corrected day; the report equals the dashboard query and the replay', async () => {
    const before = report();
    for (const p of before.pipelines) expect(p.status.liveGeneration).toBe(0);
    const r = concord(['reconcile', '--date', DATE, '--archive', archive(), '--store', store(), '--report-dir', join(ws.dir, 'reports')]);
    expect(r.code, r.stderr).toBe(0);
    const after = report();
    const differing = after.pipelines.map((p) => p.reconciliation!.report.different);
    expect(differing.reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // late data really made differences
    for (const p of after.pipelines) {
      expect(p.reconciliation).toMatchObject({ status: 'published', report: { unexplained: 0 } });
      expect(p.status.liveGeneration).toBe(1);
      expect(p.rows.every((x) => x.provenance === 'reconciled' && x.generation === 1)).toBe(true);
      // The next-day report and the replay agree cell for cell.
      expect(new Map([...cells(p.rows)].sort())).toEqual(new Map([...replayed(p.pipeline)].sort()));
      // The dashboard reads the same table.
      const s = await openStore(store(), { registry: seedRegistry() });
      try {
        const dashboard = (await s.current(p.pipeline, DATE)).map((x) => [new Date(x.windowStart).toISOString(), x.key, x.values]);
        expect(dashboard).toEqual(p.rows.map((x) => [x.window_start, x.key, x.values]));
      } finally {
        await s.close();
      }
    }
    const md = readFileSync(join(ws.dir, 'reports', DATE, 'page_views_per_minute.md'), 'utf8');
    expect(md).toMatch(/mismatch rate/);
    expect(md).toMatch(/SMAPE/);
    const json = JSON.parse(readFileSync(join(ws.dir, 'reports', DATE, 'unique_visitors_5m.json'), 'utf8')) as { report: { metrics: { smape: number } } };
    expect(json.report.metrics.smape).toBeGreaterThanOrEqual(0);
    // Rerunning the same job id changes nothing (idempotent): still version 1.
    expect(concord(['reconcile', '--date', DATE, '--archive', archive(), '--store', store(), '--pipeline', 'page_views_per_minute', '--report-dir', join(ws.dir, 'reports')]).code).toBe(0);
    expect(report().pipelines.find((p) => p.pipeline === 'page_views_per_minute')!.status.liveGeneration).toBe(1);
  }, 180_000);

  it('late events after the reconciliation mark their cells dirty; backfill recomputes exactly those', () => {
    const late = ['/late/a', '/late/a', '/late/b'].map((url, i) => JSON.stringify({ event_id: `late-${i}`, ts: `${DATE}T10:0${i}:0${i}.000Z`, url, visitor_id: `lv${i}` }));
    writeFileSync(join(ws.dir, 'late.jsonl'), late.join('\n') + '\n');
    const before = cells(report().pipelines.find((p) => p.pipeline === 'page_views_per_minute')!.rows);
    const s = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', join(ws.dir, 'late.jsonl'), '--output', join(ws.dir, 'late.rt.jsonl'), '--store', store()]);
    expect(s.code, s.stderr).toBe(0);
    // Not visible yet: the reconciled version stays as it was, with 3 dirty cells (three minutes; the
    // events lie within max_future_skew of each other, so none is quarantined).
    const pv = report().pipelines.find((p) => p.pipeline === 'page_views_per_minute')!;
    expect(cells(pv.rows)).toEqual(before);
    expect(pv.status.dirty).toBe(3);
    expect(concord(['archive', '--schema', 'clicks', '--input', join(ws.dir, 'late.jsonl'), '--dir', archive()]).code).toBe(0);
    const b = concord(['backfill', '--date', DATE, '--archive', archive(), '--store', store(), '--pipeline', 'page_views_per_minute']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(`page_views_per_minute ${DATE}: 3 dirty cells, 3 recomputed, 3 changed`);
    const now = report().pipelines.find((p) => p.pipeline === 'page_views_per_minute')!;
    expect(now.status.dirty).toBe(0);
    const changed = [...cells(now.rows)].filter(([k, val]) => before.get(k) !== val).map(([k]) => k.split('|')[0]);
    expect(changed.sort()).toEqual([`${DATE}T10:00:00.000Z`, `${DATE}T10:01:00.000Z`, `${DATE}T10:02:00.000Z`]);
    expect(now.rows.filter((x) => x.provenance === 'backfill')).toHaveLength(3);
    expect(new Map([...cells(now.rows)].sort())).toEqual(new Map([...replayed('page_views_per_minute')].sort()));
  }, 120_000);

  it('a report of a store that is not there (a mistyped --store) is a user error naming the path, and creates nothing; a written one is not', () => {
    const path = join(ws.dir, 'no-such-store.duckdb');
    const r = concord(['report', '--date', DATE, '--format', 'json', '--store', `duckdb:${path}`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`concord report: no store at ${path}: run \`concord stream --store duckdb:${path} ...\` or \`concord demo\` first, or check --store (or CONCORD_STORE)`]);
    expect(existsSync(path)).toBe(false);
    const written = concord(['report', '--date', DATE, '--format', 'json', '--store', store()]);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stderr).not.toContain('no store');
  });

  it('a second file of the same windows streamed into the store: said, its cells dirty, and a backfill over both files gives the sum', () => {
    const at = `duckdb:${join(ws.dir, 'two-files.duckdb')}`;
    const click = (id: string, ts: number, url: string) => ({ event_id: id, ts, url, visitor_id: `v${id}` });
    const a = ws.file('morning.jsonl', [click('a1', 1_000, '/a'), click('a2', 2_000, '/a')]);
    const b = ws.file('afternoon.jsonl', [click('b1', 3_000, '/a'), click('b2', 4_000, '/b')]);
    const stream = (input: string) => concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', `${input}.out`, '--store', at]);
    expect(stream(a).stderr).not.toContain('contradict');
    const second = stream(b);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('!! 1 results contradict rows another run stored for the same windows');
    // The day to backfill named: it need not be the input's (a hopping window crossing midnight is the day
    // it starts on; walked 2026-12-07, it said `backfill --date D` and a user backfilled the input's day).
    expect(second.stderr).toContain('and run `concord backfill --date 1970-01-01 --pipeline page_views_per_minute --archive DIR` to recompute them');
    expect(stream(a).stderr).not.toContain('contradict'); // a rerun of the first file writes the same values
    const arch = join(ws.dir, 'two-files-archive');
    for (const f of [a, b]) expect(concord(['archive', '--schema', 'clicks', '--input', f, '--dir', arch]).code).toBe(0);
    const bf = concord(['backfill', '--date', '1970-01-01', '--archive', arch, '--store', at, '--pipeline', 'page_views_per_minute']);
    expect(bf.stdout).toContain('page_views_per_minute 1970-01-01: 1 dirty cells, 1 recomputed, 1 changed');
    expect(bf.stderr).not.toContain('holds nothing');
    // A pipeline the store holds nothing of on the day (added to the definitions later): --date found no
    // dirty cell and said only that; it now names the command that computes the whole day.
    const none = concord(['backfill', '--date', '1970-01-01', '--archive', arch, '--store', at, '--pipeline', 'unique_visitors_5m']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain('unique_visitors_5m 1970-01-01: 0 dirty cells, 0 recomputed, 0 changed');
    expect(none.stderr).toContain(`unique_visitors_5m 1970-01-01: the store holds nothing of this pipeline's day (no stream rows, no version): --date recomputes dirty cells only; to compute the whole day from the archive, run \`concord backfill --from 1970-01-01 --to 1970-01-01 --pipeline unique_visitors_5m --archive ${arch}\``);
    const r = concord(['report', '--date', '1970-01-01', '--format', 'json', '--store', at, '--pipeline', 'page_views_per_minute']);
    const rows = (JSON.parse(r.stdout) as Report).pipelines[0]!.rows;
    expect(rows.map((x) => [x.key.url, x.values.views])).toEqual([['/a', 3], ['/b', 1]]);
  });

  // After a revert the report said "live version 0 (realtime, not reconciled yet)" of a reconciled day;
  // `revert --pipeline all` of a day nothing was reconciled for printed nothing.
  it('revert: the report says which reconciled version was reverted; a day with nothing to revert says so', () => {
    const r = concord(['revert', '--date', DATE, '--pipeline', 'page_views_per_minute', '--store', store()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^page_views_per_minute 2026-11-23: version 0 live again \(was 1\)/);
    const md = concord(['report', '--date', DATE, '--store', store(), '--pipeline', 'page_views_per_minute']);
    expect(md.stdout).toContain('live version 0 (realtime: reconciled version 1 reverted)');
    const nothing = concord(['revert', '--date', '2026-11-20', '--pipeline', 'all', '--store', store()]);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout.trim().split('\n')).toEqual(seedPipelines.map((p) => `${p.name} 2026-11-20: never reconciled, nothing to revert`));
  });
});
