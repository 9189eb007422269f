import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blankDir } from '../../batch/archive-layout.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { DuckDb } from '../../batch/duckdb.ts';
import { findGaps } from '../../reconcile/evidence.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import type { ResultRecord, WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import type { LineBatch } from '../../sources/source.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Each cause of issue 4 on a minimal archive (real DuckDB + Parquet), with the realtime side produced
// by the real stream runtime and then changed the way the cause changes it.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const M = 60_000;
const click = (id: string, ts: number, url = '/a') => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
let n = 0;

async function archive(lines: string[], source = 'file:input.jsonl'): Promise<string> {
  const dir = join(ws.dir, `a${n++}`);
  await new ParquetArchive(dir, def.schema).write(memoryBatches(source, lines, 1000));
  return dir;
}

/** A source whose lines at `missing` never reached the archive: a real gap, offsets skipped (not blank lines). */
async function* withoutLines(source: string, lines: readonly string[], missing: readonly number[]): AsyncIterable<LineBatch> {
  const kept = lines.map((l, i) => [l, i] as const).filter(([, i]) => !missing.includes(i));
  yield { source, firstOffset: 0, lines: kept.map(([l]) => l), offsets: kept.map(([, i]) => i) };
}

const views = (r: ResultRecord) => (r as WindowResult).values.views;
const withViews = (r: ResultRecord, v: number): WindowResult => ({ ...(r as WindowResult), values: { views: v } });

describe('reconcile: every cause, backed by evidence', () => {
  it('duplicate: the log holds one event twice; the stream counted both, the replay counts it once', async () => {
    const lines = [click('e1', 1_000), click('e2', 2_000), click('e1', 1_000), click('e3', 3 * M)];
    const streamed = await streamLines(def, lines);
    expect(streamed.final.map(views)).toEqual([3, 1]);
    const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: await archive(lines) });
    expect(report).toMatchObject({ cells: 2, equal: 1, different: 1, unexplained: 0, causes: { duplicate: 1 }, evidence: { duplicates: 1 } });
    expect(report.differences[0]).toMatchObject({ realtime: { views: 3 }, replay: { views: 2 }, cause: 'duplicate' });
    // Without dedupe the replay counts deliveries like the stream: nothing differs.
    expect((await reconcile({ def, realtime: streamed.changelog, archiveDir: await archive(lines), dedupe: false })).different).toBe(0);
  });

  // A repeated delivery the stream dropped as late is no cause: the replay does not count it either. The
  // cell differs by e1's repeat alone; it was named late_beyond_lateness after the late e2 (session 30).
  it('duplicate, not late: a repeated delivery the stream judged late does not explain the cell', async () => {
    const lines = [click('e1', 1_000), click('e1', 1_000), click('e2', 2_000), click('e3', 3 * M), click('e2', 2_000)];
    const streamed = await streamLines(def, lines);
    expect(streamed.final.map(views)).toEqual([3, 1]);
    expect(streamed.lates.map((l) => l.position.offset)).toEqual([4]);
    const lateLog = streamed.lates.map((record) => ({ record, evaluatedOnArrival: false }));
    for (const log of [undefined, lateLog]) {
      const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: await archive(lines), ...(log ? { lateLog: log } : {}) });
      expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { duplicate: 1, late_beyond_lateness: 0 } });
      expect(report.differences[0]).toMatchObject({ realtime: { views: 3 }, replay: { views: 2 }, cause: 'duplicate', late_events: [] });
    }
    // First deliveries judged late still are the cause, named without e2's repeat.
    const more = [...lines, click('e4', 3_000), click('e5', 4_000)];
    const again = await streamLines(def, more);
    const report = await reconcile({ def, realtime: again.changelog, archiveDir: await archive(more) });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } });
    expect(report.differences[0]).toMatchObject({ realtime: { views: 3 }, replay: { views: 4 } });
    expect(report.differences[0]!.late_events.map((e) => e.id)).toEqual(['e4', 'e5']);
  });

  it('missing_window: the stream was down for a window; extra and missing windows and SMAPE in the metrics', async () => {
    const lines = [click('e1', 1_000), click('e2', M + 1), click('e3', M + 2), click('e4', 3 * M)];
    const streamed = await streamLines(def, lines);
    const realtime = streamed.changelog.filter((r) => (r as WindowResult).windowStart !== M);
    const report = await reconcile({ def, realtime, archiveDir: await archive(lines) });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { missing_window: 1 } });
    expect(report.metrics).toEqual({ realtime_cells: 2, replay_cells: 3, mismatched: 0, missing: 1, extra: 0, mismatch_rate: 1 / 3, smape: 2 / 6 });
  });

  it('update_after_read: the dashboard read a value the stream corrected later', async () => {
    const lines = [click('e1', 1_000), click('e2', 2_000), click('e3', 3 * M)];
    const streamed = await streamLines(def, lines);
    const first = streamed.final[0]!;
    const dashboardRead = [withViews(first, 1)];
    const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: await archive(lines), dashboardRead });
    expect(report).toMatchObject({ equal: 1, different: 1, unexplained: 0, causes: { update_after_read: 1 } });
    expect(report.differences[0]).toMatchObject({ realtime: { views: 1 }, replay: { views: 2 }, cause: 'update_after_read' });
    expect(report.metrics.mismatched).toBe(0); // the table itself was right
  });

  it('parse_reject: the stream accepted records the archive rejected (another schema version), no more than there are', async () => {
    const bad = JSON.stringify({ event_id: 'x1', ts: 1_500, url: '/a', visitor_id: 7 }); // visitor_id must be a string
    const lines = [click('e1', 1_000), bad, click('e3', 3 * M)];
    const streamed = await streamLines(def, [click('e1', 1_000), click('e3', 3 * M)]);
    const realtime = streamed.changelog.map((r) => ((r as WindowResult).windowStart === 0 ? withViews(r, 2) : r));
    const dir = await archive(lines);
    const report = await reconcile({ def, realtime, archiveDir: dir });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { parse_reject: 1 }, evidence: { dead_letters: 1 } });
    // Two more than the replay, with one rejected record: not explained by it.
    const tooMany = streamed.changelog.map((r) => ((r as WindowResult).windowStart === 0 ? withViews(r, 3) : r));
    expect((await reconcile({ def, realtime: tooMany, archiveDir: dir })).causes).toMatchObject({ parse_reject: 0, unexplained: 1 });
  });

  it('parse_reject is not claimed by a rejected record whose time ends in a zone abbreviation: no runtime reads one', async () => {
    // Date.parse reads "00:00:01 EST" as -05:00 (and "IST" not at all), so such a record explained a
    // difference in the cell of a time no stream ever gave it.
    const T = 5 * 3_600_000; // 1970-01-01T00:00-05:00
    const bad = JSON.stringify({ event_id: 'x1', ts: '1970-01-01 00:00:01 EST', url: '/a', visitor_id: 'vx' });
    const lines = [click('e1', T + 1_000), bad, click('e3', T + 3 * M)];
    const streamed = await streamLines(def, [click('e1', T + 1_000), click('e3', T + 3 * M)]);
    const realtime = streamed.changelog.map((r) => ((r as WindowResult).windowStart === T ? withViews(r, 2) : r));
    const report = await reconcile({ def, realtime, archiveDir: await archive(lines) });
    expect(report).toMatchObject({ different: 1, evidence: { dead_letters: 1 } });
    expect(report.causes).toMatchObject({ parse_reject: 0, unexplained: 1 });
  });

  it('future_timestamp: the stream counted events the archive quarantined (max_future_skew changed in between)', async () => {
    // The stream ran with the quarantine off; the archive judged with max_future_skew 1h: e2, 2 h ahead of
    // the wall clock, was quarantined there.
    const ahead = Math.floor((Date.now() + 2 * 3_600_000) / M) * M;
    const lines = [click('e1', 1_000), click('e3', 3 * M), click('e2', ahead + 1_000)];
    const streamed = await streamLines({ ...def, schema: { ...def.schema, maxFutureSkewMs: Infinity } }, lines);
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, { ...def.schema, maxFutureSkewMs: 3_600_000 }).write(memoryBatches('file:input.jsonl', lines, 1000));
    const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: dir });
    expect(report).toMatchObject({ unexplained: 0, causes: { future_timestamp: 1 } });
    expect(report.differences.map((d) => [d.cause, d.realtime?.views, d.replay?.views ?? null])).toEqual([['future_timestamp', 1, null]]);
  });

  // The other way round (docs/semantics.md "Time that lies"): a file streamed first and archived later.
  // The stream held e2 and e4, stamped ahead of its clock; by the time the archive read them their time
  // had come (here: the archive judges with the quarantine off). Without the stream's dead letters the
  // cell holding e2 beside e1 was unexplained and e4's own cell missing_window (measured, session 30).
  it('future_timestamp: the archive counted events the stream quarantined, named by the stream\'s dead letters', async () => {
    const ahead = Math.floor((Date.now() + 2 * 3_600_000) / M) * M;
    // e1 within the stream's max_future_skew, e2 and e4 50 s beyond it (while this test runs).
    const streamedDef = { ...def, schema: { ...def.schema, maxFutureSkewMs: ahead + 5_000 - Date.now() } };
    const lines = [click('e1', ahead + 1_000), click('e2', ahead + 55_000), click('e3', ahead + 2_000), click('e4', ahead + 55_000, '/b')];
    const streamed = await streamLines(streamedDef, lines);
    expect(streamed.deadLetters.map((d) => [d.offset, d.reason])).toEqual([[1, 'future_timestamp'], [3, 'future_timestamp']]);
    const quarantined = streamed.deadLetters.map((d) => ({ position: { source: d.source, offset: d.offset } }));
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, { ...def.schema, maxFutureSkewMs: Infinity }).write(memoryBatches('file:input.jsonl', lines, 1000));
    const realtime = streamed.changelog;
    const without = await reconcile({ def: streamedDef, realtime, archiveDir: dir });
    expect(without.causes).toMatchObject({ unexplained: 1, missing_window: 1, future_timestamp: 0 });
    for (const lateLog of [undefined, [] as LoggedLate[]]) {
      const report = await reconcile({ def: streamedDef, realtime, archiveDir: dir, quarantined, ...(lateLog ? { lateLog } : {}) });
      expect(report).toMatchObject({ different: 2, unexplained: 0, causes: { future_timestamp: 2 } });
      expect(report.differences.map((d) => [d.cell.url, d.realtime?.views ?? null, d.replay?.views, d.late_events.map((e) => [e.id, e.offset])])).toEqual([
        ['/a', 2, 3, [['e2', 1]]],
        ['/b', null, 1, [['e4', 3]]],
      ]);
    }
    // A verdict on an event the archive does not hold (it quarantined it too) explains nothing here.
    const elsewhere = await reconcile({ def: streamedDef, realtime, archiveDir: dir, quarantined: [{ position: { source: 'file:other.jsonl', offset: 1 } }] });
    expect(elsewhere.causes).toMatchObject({ unexplained: 1, missing_window: 1, future_timestamp: 0 });
  });

  it('archive_gap: offsets neither archived nor rejected; the stream counted what the archive lacks', async () => {
    const lines = [click('e1', 1_000), click('e2', 2_000), click('e3', 3_000), click('e4', 3 * M)];
    const streamed = await streamLines(def, lines);
    const holed = join(ws.dir, `a${n++}`);
    await new ParquetArchive(holed, def.schema).write(withoutLines('file:input.jsonl', lines, [1]));
    const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: holed });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { archive_gap: 1 }, evidence: { archive_gaps: 1 } });
    expect(report.differences[0]).toMatchObject({ realtime: { views: 3 }, replay: { views: 2 } });
  });

  it('a blank line is no gap: both runtimes skip it, the archive notes its offset', async () => {
    const lines = [click('e1', 1_000), '', click('e3', 3_000), '  ', click('e4', 3 * M)];
    const streamed = await streamLines(def, lines);
    const dir = await archive(lines);
    const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: dir });
    expect(report).toMatchObject({ different: 0, unexplained: 0, evidence: { archive_gaps: 0 } });
    // The stream counted the event the archive lacks: no blank line may explain it as a gap.
    const more = streamed.changelog.map((r) => ((r as WindowResult).windowStart === 0 ? withViews(r, 3) : r));
    const unexplained = await reconcile({ def, realtime: more, archiveDir: dir });
    expect(unexplained).toMatchObject({ different: 1, unexplained: 1, evidence: { archive_gaps: 0 } });
    // Archived again without its blank lines, the source's earlier note of them goes.
    const note = join(blankDir(dir, def.schema), 'file_input.jsonl');
    expect((await readFile(note, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ source: 'file:input.jsonl', offset: 1 }, { source: 'file:input.jsonl', offset: 3 }]);
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', lines.filter((l) => l.trim() !== ''), 1000));
    await expect(readFile(note, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('archive gaps: read from the row-group statistics, or by a scan when a row group mixes sources; both exact', async () => {
    // Two sources, each file one source (statistics answer): offsets 0..3 of a with 1 missing, 0..2 of b complete.
    const a = [click('e1', 1_000), click('e2', 2_000), click('e3', 3_000), click('e4', 4_000)];
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, def.schema).write(withoutLines('file:a.jsonl', a, [1]));
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:b.jsonl', [click('f1', 1_000), click('f2', 2_000), click('f3', 3_000)], 1000));
    const db = await DuckDb.open();
    try {
      expect(await findGaps(dir, def.schema, db, [])).toEqual(new Map([['file:a.jsonl', 1]]));
      // One file holding every source in one row group, with a repeated offset: the statistics cannot say.
      const mixedDir = join(ws.dir, `a${n++}`);
      const hour = join(mixedDir, 'clicks', 'dt=1970-01-01', 'hour=00');
      await mkdir(hour, { recursive: true });
      const src = `read_parquet('${join(dir, 'clicks', '*', '*', '*.parquet')}')`;
      const b0 = `FROM ${src} WHERE _source = 'file:b.jsonl'`;
      await db.run(`COPY (SELECT * FROM ${src}
        UNION ALL SELECT * REPLACE ('file:c.jsonl' AS _source) ${b0} AND _offset <> 1
        UNION ALL SELECT * REPLACE ('file:c.jsonl' AS _source, 9::BIGINT AS _offset) ${b0} AND _offset = 0
        UNION ALL SELECT * REPLACE ('file:c.jsonl' AS _source) ${b0} AND _offset = 0) TO '${join(hour, 'mixed.parquet')}' (FORMAT parquet)`);
      // a: 0, 2, 3; b: 0, 1, 2; c: 0, 2, 9, 0 again -> 1 and 3..8 missing.
      expect(await findGaps(mixedDir, def.schema, db, [])).toEqual(new Map([['file:a.jsonl', 1], ['file:c.jsonl', 7]]));
    } finally {
      db.close();
    }
  });

  it('doubles: a sum or average of a double field differing in its last bits is the same value (the order of additions)', async () => {
    const rides = parseDefinitions({
      schemas: { rides: { time: 'ts', id: 'ride_id', fields: { ride_id: 'string', ts: 'timestamp', city: 'string', km: 'double', fare: 'decimal(2)' } } },
      pipelines: { km: { input: 'rides', key: ['city'], window: { tumbling: '1m' }, aggregates: { n: 'count', km: ['sum', 'km'], avg_km: ['avg', 'km'], fare: ['sum', 'fare'] }, max_out_of_orderness: 1000, allowed_lateness: 0 } },
    }, 'x').pipeline('km');
    const ride = (id: string, ts: number, km: number) => JSON.stringify({ ride_id: id, ts, city: 'L', km, fare: '1.10' });
    // r4 is late for the first window: the realtime value lacks it, the replay has it.
    const lines = [ride('r1', 1_000, 1.1), ride('r2', 2_000, 2.2), ride('r3', 3 * M, 0.7), ride('r4', 1_500, 3.3)];
    const streamed = await streamLines(rides, lines);
    expect(streamed.lates).toHaveLength(1);
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, rides.schema).write(memoryBatches('file:input.jsonl', lines, 1000));
    // As the Kafka path's partial merges give them: the doubles' last bits differ.
    const nudged = (r: ResultRecord): WindowResult => {
      const w = r as WindowResult;
      return { ...w, values: { ...w.values, km: w.values.km! * (1 + 1e-15), avg_km: w.values.avg_km! * (1 - 1e-15) } };
    };
    const realtime = streamed.changelog.map(nudged);
    const lateLog = streamed.lates.map((record) => ({ record, evaluatedOnArrival: false }));
    for (const report of [await reconcile({ def: rides, realtime, archiveDir: dir }), await reconcile({ def: rides, realtime, archiveDir: dir, lateLog })]) {
      expect(report).toMatchObject({ cells: 2, different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } });
    }
    // Decimals stay exact: a sum of decimals one cent off is a difference nothing explains.
    const cent = streamed.changelog.map((r) => ((r as WindowResult).windowStart === 3 * M ? { ...(r as WindowResult), values: { ...(r as WindowResult).values, fare: 1.11 } } : r));
    expect(await reconcile({ def: rides, realtime: cent, archiveDir: dir, lateLog })).toMatchObject({ different: 2, unexplained: 1 });
  });

  it('no archive of the schema to read is the user\'s error, not a report blaming every realtime cell', async () => {
    const streamed = await streamLines(def, [click('e1', 1_000), click('e2', 3 * M)]);
    const empty = join(ws.dir, `a${n++}`);
    await mkdir(empty, { recursive: true });
    await expect(reconcile({ def, realtime: streamed.changelog, archiveDir: empty })).rejects.toThrow(ConfigError);
    await expect(reconcile({ def, realtime: streamed.changelog, archiveDir: empty })).rejects.toThrow(`no archive to read: ${empty} holds no Parquet file of schema clicks`);
    await expect(reconcile({ def, realtime: streamed.changelog, archiveDir: join(empty, 'nope') })).rejects.toThrow(`no archive to read: ${join(empty, 'nope')} does not exist`);
    // An archive whose every line was rejected holds no event either (DuckDB failed on its empty glob).
    const rejectedOnly = await archive(['not json', '{"event_id": 1}']);
    await expect(reconcile({ def, realtime: streamed.changelog, archiveDir: rejectedOnly })).rejects.toThrow(`no archive to read: ${rejectedOnly} holds no Parquet file of schema clicks`);
    // Nothing on either side is an empty report, not an error (nor DuckDB's).
    expect(await reconcile({ def, realtime: [], archiveDir: rejectedOnly })).toMatchObject({ cells: 0, different: 0, unexplained: 0 });
  });

  it('range: only the cells of windows starting in [from, to) are reconciled', async () => {
    const lines = [click('e1', 1_000), click('e2', M + 1), click('e3', 2 * M + 1), click('e4', 5 * M)];
    const streamed = await streamLines(def, lines);
    const realtime = streamed.changelog.map((r) => withViews(r, 9));
    const report = await reconcile({ def, realtime, archiveDir: await archive(lines), range: { from: M, to: 3 * M } });
    expect(report.cells).toBe(2);
    expect(report.differences.map((d) => d.cell.window_start)).toEqual(['1970-01-01T00:01:00.000Z', '1970-01-01T00:02:00.000Z']);
    expect(report.causes.unexplained).toBe(2);
  });
});
