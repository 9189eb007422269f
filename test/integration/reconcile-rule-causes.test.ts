import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import type { LateRecord, ResultRecord } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { runStream } from '../../stream/runtime.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A rule's differences are named by what really caused them: the stream's own run, archived and
// reconciled both ways (re-running the stream over the archive, and with the workers' late log).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const S = 1_000;
const defs = parseDefinitions({
  schemas: { tx: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', user: 'string' } } },
  pipelines: {
    burst: { input: 'tx', key: 'user', rule: { within: '10s', count: true, more_than: 1, output: 'n' }, max_out_of_orderness: 0, allowed_lateness: '1m' },
  },
}, 'x');
const tx = (id: string, ts: number, user = 'u1') => JSON.stringify({ id, ts, user });
let n = 0;

async function reconcileBothWays(def: PipelineDefinition, lines: string[], archived = lines) {
  const realtime: ResultRecord[] = [];
  const logged: LoggedLate[] = [];
  await runStream({
    pipelines: [def],
    source: memoryBatches('file:input.jsonl', lines, 1000),
    onResult: (r) => realtime.push(r),
    onLate: (record: LateRecord) => logged.push({ record, evaluatedOnArrival: false }),
    onLateAccepted: (record: LateRecord) => logged.push({ record, evaluatedOnArrival: true }),
    onDeadLetter: () => {},
  });
  const dir = join(ws.dir, `a${n++}`);
  await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', archived, 1000));
  return { realtime, reports: [await reconcile({ def, realtime, archiveDir: dir }), await reconcile({ def, realtime, archiveDir: dir, lateLog: logged })] };
}

describe('reconcile: rule causes', () => {
  it('an alert that differs by a repeated delivery alone is a duplicate, not the late event next to it', async () => {
    // a is delivered twice (the stream counts 2 at a: alert); x arrives late within L and is evaluated
    // on arrival, after the predecessor a satisfied the rule: no alert at x. The deduplicated replay
    // alerts at x instead. Without the repeated delivery the stream would have alerted at x too (x's
    // predecessor a, counted once, does not satisfy the rule): x's difference is the duplicate's, the
    // late x changed nothing. (It was named late_within_lateness: x is a late event within one span.)
    const { realtime, reports } = await reconcileBothWays(defs.pipeline('burst'), [tx('a', 0), tx('a', 0), tx('z', 20 * S), tx('x', 5 * S)]);
    expect(realtime.map((r) => r.kind === 'alert' && [r.id, r.value, r.late])).toEqual([['a', 2, false]]);
    for (const report of reports) {
      expect(report).toMatchObject({ different: 2, unexplained: 0, causes: { duplicate: 2, late_within_lateness: 0 } });
      expect(report.differences.map((d) => [d.cell.id, d.realtime, d.replay, d.cause])).toEqual([
        ['a', { n: 2 }, null, 'duplicate'], ['x', null, { n: 2 }, 'duplicate']]);
      // Each names the repeated delivery behind it (the second a), apart from late events.
      expect(report.differences.map((d) => [d.late_events, d.repeated?.map((e) => [e.id, e.offset])])).toEqual([[[], [['a', 1]]], [[], [['a', 1]]]]);
    }
  });

  it('a repeated delivery the stream dropped as late is no cause: the alert its on-time repeat raised is a duplicate', async () => {
    // a is delivered three times: twice on time (the stream counts 2 at a: alert), once after z moved W
    // beyond L (dropped). The deduplicated replay counts a once: no alert. The late third delivery is no
    // cause, the replay leaves it out too; it was named late_beyond_lateness (session 30).
    const { realtime, reports } = await reconcileBothWays(defs.pipeline('burst'), [tx('a', 0), tx('a', 0), tx('z', 200 * S, 'u2'), tx('a', 0)]);
    expect(realtime.map((r) => r.kind === 'alert' && [r.id, r.value, r.late])).toEqual([['a', 2, false]]);
    for (const report of reports) {
      expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { duplicate: 1, late_beyond_lateness: 0 } });
      expect(report.differences.map((d) => [d.cell.id, d.realtime, d.replay, d.cause, d.late_events])).toEqual([['a', { n: 2 }, null, 'duplicate', []]]);
      // The repeat the stream counted (the second a, offset 1), not the third it dropped as late (offset 3).
      expect(report.differences.map((d) => d.repeated?.map((e) => [e.id, e.offset]))).toEqual([[['a', 1]]]);
    }
  });

  it('a repeated delivery the stream refused is no cause: the alert its counted repeat raised is a duplicate', async () => {
    // a's third delivery carries a user the stream's definitions refuse (the archive kept it): the stream
    // never counted it, and the deduplicated replay leaves it out too. It was named parse_reject.
    const def = defs.pipeline('burst');
    const archived = [tx('a', 0), tx('a', 0), tx('a', 0), tx('z', 200 * S, 'u2')];
    const streamed = archived.map((l, i) => (i === 2 ? JSON.stringify({ id: 'a', ts: 0, user: 5 }) : l));
    const realtime: ResultRecord[] = [];
    const quarantined: { position: { source: string; offset: number }; rejected: string }[] = [];
    await runStream({
      pipelines: [def], source: memoryBatches('file:input.jsonl', streamed, 1000), onResult: (r) => realtime.push(r), onLate: () => {},
      onDeadLetter: (d) => quarantined.push({ position: { source: d.source, offset: d.offset }, rejected: d.reason }),
    });
    expect(quarantined.map((q) => q.position.offset)).toEqual([2]);
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:input.jsonl', archived, 1000));
    for (const lateLog of [undefined, [] as LoggedLate[]]) {
      const report = await reconcile({ def, realtime, archiveDir: dir, quarantined, ...(lateLog ? { lateLog } : {}) });
      expect(report.differences.map((d) => [d.cell.id, d.realtime, d.replay, d.cause, d.late_events, d.repeated?.map((e) => e.offset)])).toEqual([
        ['a', { n: 2 }, null, 'duplicate', [], [1]]]);
    }
  });

  it('a late event that really moved the alert is still named for it, next to a repeated delivery elsewhere', async () => {
    // u2's repeated delivery changes nothing of u1; u1's late x (evaluated on arrival) alerts at x as the
    // replay does, but the stream had already alerted at b, before x arrived.
    const { reports } = await reconcileBothWays(defs.pipeline('burst'), [
      tx('d', 0, 'u2'), tx('d', 0, 'u2'), tx('a', 1 * S), tx('b', 3 * S), tx('z', 30 * S), tx('x', 2 * S)]);
    for (const report of reports) {
      expect(report.differences.map((d) => [d.cell.user, d.cell.id, d.cause]).sort()).toEqual([
        ['u1', 'b', 'late_within_lateness'], ['u2', 'd', 'duplicate']]);
    }
  });

  it('a key with a repeated delivery is no duplicate where the stream never read the event that alerts', async () => {
    // The archive holds y, which the stream never read and no late log names (an archive holding more
    // than the stream saw): the replay alerts at y. u1's repeated delivery of a, 30 s earlier, has nothing
    // to do with it. (With the workers' log it was named `duplicate`: the key had a repeated delivery.)
    const streamed = [tx('a', 0), tx('a', 0), tx('b', 30 * S), tx('z', 60 * S)];
    const { reports } = await reconcileBothWays(defs.pipeline('burst'), streamed, [...streamed, tx('y', 31 * S)]);
    for (const report of reports) {
      expect(report.differences.map((d) => [d.cell.id, d.cause])).toEqual([['a', 'duplicate'], ['y', 'unexplained']]);
    }
  });
});

describe('reconcile: a rule alert is named late only when recomputing the key proves it', () => {
  it('a late event next to an alert is no explanation when the stream never read the event that made it', async () => {
    // x arrives late within L (evaluated on arrival: alone within 10 s, no alert; z, decided at the end,
    // alerts with x). The archive also holds y (28 s), which the stream never read and no late log names:
    // the replay alerts at x (y, x), not at z. Re-running the key with the workers' verdicts over the
    // archive does the same, unlike the stream: x's lateness explains neither difference. (With the
    // workers' log both were named late_within_lateness: a logged late event within one span.)
    const streamed = [tx('a', 1 * S), tx('z', 30 * S), tx('x', 29 * S)];
    const { realtime, reports } = await reconcileBothWays(defs.pipeline('burst'), streamed, [tx('a', 1 * S), tx('y', 28 * S), tx('z', 30 * S), tx('x', 29 * S)]);
    expect(realtime.map((r) => r.kind === 'alert' && [r.id, r.value])).toEqual([['z', 2]]);
    for (const [i, report] of reports.entries()) {
      expect([i, report.differences.map((d) => [d.cell.id, d.realtime, d.replay, d.cause])]).toEqual([i, [
        ['x', null, { n: 2 }, 'unexplained'], ['z', { n: 2 }, null, 'unexplained']]]);
    }
  });

  it('an alert a dropped event changed through its predecessor is late_beyond_lateness, not hidden by a late event within L', async () => {
    // Complete data: d (90 s), p (99 s), w (105 s), e (110 s): alert at p (d, p). The stream read p, e,
    // z (160 s), then d (90 s <= W - L: dropped) and w (evaluated on arrival): p alone did not satisfy
    // the rule, so w (p, w) alerts. w's difference is d's, 1.5 spans back, through w's predecessor p; w,
    // within one span, was named alone (late_within_lateness) before.
    const { realtime, reports } = await reconcileBothWays(defs.pipeline('burst'), [
      tx('p', 99 * S), tx('e', 110 * S), tx('z', 160 * S), tx('d', 90 * S), tx('w', 105 * S)]);
    expect(realtime.map((r) => r.kind === 'alert' && [r.id, r.late])).toEqual([['w', true]]);
    for (const report of reports) {
      expect(report).toMatchObject({ different: 2, unexplained: 0 });
      expect(report.differences.map((d) => [d.cell.id, d.cause, d.late_events.map((e) => e.id)]).sort()).toEqual([
        ['p', 'late_beyond_lateness', ['d']], ['w', 'late_beyond_lateness', ['d', 'w']]]);
    }
  });

  it('an alert the archive raised at an event the stream quarantined (a future timestamp) is future_timestamp, named by the stream\'s dead letter', async () => {
    // The stream read the file while x was 8 s beyond its max_future_skew; the archive read it later
    // (here: with the quarantine off) and counted it: the replay alerts at x (a, x within 10 s).
    const ahead = Math.floor((Date.now() + 2 * 3_600_000) / 60_000) * 60_000;
    const burst = defs.pipeline('burst');
    const def = { ...burst, schema: { ...burst.schema, maxFutureSkewMs: ahead + 1 * S - Date.now() } };
    const lines = [tx('a', ahead), tx('x', ahead + 9 * S), tx('b', ahead, 'u2'), tx('c', ahead + 500, 'u2')];
    const realtime: ResultRecord[] = [];
    const quarantined: { position: { source: string; offset: number } }[] = [];
    await runStream({
      pipelines: [def], source: memoryBatches('file:input.jsonl', lines, 1000), onResult: (r) => realtime.push(r), onLate: () => {},
      onDeadLetter: (d) => quarantined.push({ position: { source: d.source, offset: d.offset } }),
    });
    expect(quarantined.map((q) => q.position.offset)).toEqual([1]);
    const dir = join(ws.dir, `a${n++}`);
    await new ParquetArchive(dir, { ...def.schema, maxFutureSkewMs: Infinity }).write(memoryBatches('file:input.jsonl', lines, 1000));
    expect((await reconcile({ def, realtime, archiveDir: dir })).causes).toMatchObject({ unexplained: 1, future_timestamp: 0 });
    for (const lateLog of [undefined, [] as LoggedLate[]]) {
      const report = await reconcile({ def, realtime, archiveDir: dir, quarantined, ...(lateLog ? { lateLog } : {}) });
      expect(report.differences.map((d) => [d.cell.id, d.realtime, d.replay, d.cause, d.late_events.map((e) => e.id)])).toEqual([['x', null, { n: 2 }, 'future_timestamp', ['x']]]);
    }
  });
});
