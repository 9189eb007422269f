import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import type { RulePipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { parseLateRow } from '../../reconcile/realtime-input.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { LateRecord, ResultRecord } from '../../schemas/results.ts';
import type { LineBatch } from '../../sources/source.ts';
import { toForwardedEvent } from '../../stream/merge-messages.ts';
import { outOfOrderLateRecord } from '../../stream/out-of-order-log.ts';
import { RuleForwarder } from '../../stream/rule-merge-forwarder.ts';
import { RuleMergeStage } from '../../stream/rule-merge.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A rule keyed by another field than the partition key runs in the merge stage. A partition that went
// idle and wakes up behind the merge's W has its on-time events decided at once, after later events of
// other partitions were decided without them (docs/semantics.md, "Rules in the merge stage"). The
// merge records where it fed them (late log, `decided_after_wakeup`), so reconcile reproduces the
// stream's alerts and names the difference `idle_wakeup`; without the record it was `unexplained` and
// the day did not publish.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const S = 1_000;
const TOPIC = 'tx';
const def = parseDefinitions({
  schemas: { tx: { time: 'ts', id: 'id', key: 'user', fields: { id: 'string', ts: 'timestamp', user: 'string', merchant: 'string' } } },
  pipelines: {
    burst: { input: 'tx', key: 'merchant', rule: { within: '10m', count: true, more_than: 1, output: 'n' }, max_out_of_orderness: '1s', allowed_lateness: '5m' },
  },
}, 'x').pipeline('burst') as RulePipeline;
const tx = (id: string, ts: number, merchant: string) => ({ id, ts, user: 'u', merchant });

/** Two workers' forwarders and the merge stage; `steps`: a partition's events, then the others' idleness. */
function stream(steps: { p: number; events: ReturnType<typeof tx>[]; othersIdle: boolean }[]) {
  const realtime: ResultRecord[] = [];
  const logged: LoggedLate[] = [];
  const lines: string[][] = [[], []];
  const emitter = {
    result: (r: ResultRecord) => realtime.push(r),
    late: (record: LateRecord) => logged.push({ record, evaluatedOnArrival: false }),
    lateAccepted: (record: LateRecord) => logged.push({ record, evaluatedOnArrival: true }),
  };
  const stage = new RuleMergeStage(def, TOPIC, 2);
  const trackers = [0, 1].map((p) => { const t = new WatermarkTracker(def.watermark.maxOutOfOrderness); t.addSource(`${TOPIC}:${p}`, { idle: false }); return t; });
  const workers = [0, 1].map((p) => new RuleForwarder(def, p, trackers[p]!, emitter, (m) => stage.event(toForwardedEvent(JSON.parse(JSON.stringify(m))))));
  const advance = () => {
    realtime.push(...stage.advance());
    // Through the late topic's format, as the sink and `results --late-output` read it.
    for (const d of stage.takeOutOfOrder()) logged.push(parseLateRow(def, JSON.parse(outOfOrderLateRecord(def, TOPIC, 'v', d).value) as Record<string, unknown>, 'merge')!);
  };
  for (const { p, events, othersIdle } of steps) {
    for (const e of events) {
      const line = JSON.stringify(e);
      const d = decodeLine(def.schema, line, { source: `${TOPIC}:${p}`, offset: lines[p]!.length });
      if (!d.ok) throw new Error(d.deadLetter.reason);
      workers[p]!.process(d.event, { source: `${TOPIC}:${p}`, offset: lines[p]!.length });
      lines[p]!.push(line);
    }
    stage.progress(p, trackers[p]!.current, false);
    stage.progress(1 - p, trackers[1 - p]!.current, othersIdle);
    advance();
  }
  [0, 1].forEach((p) => stage.progress(p, Number.POSITIVE_INFINITY, false));
  advance();
  return { realtime, logged, lines };
}

describe('reconcile: a merge-stage rule after an idle partition woke up', () => {
  it('names the alert the woken event changed idle_wakeup, not unexplained', async () => {
    // Partition 1 delivers q (10 s) and goes quiet; partition 0's b (200 s) and z (401 s) move the merged
    // W to 399.999 s once partition 1 is idle: b is decided alone (1 event: no alert). Partition 1 then
    // delivers e (150 s, merchant m): on time by its own W (9 s), behind the merge: decided at once,
    // alone before it. Complete data alerts at b (e and b within 10 min).
    const { realtime, logged, lines } = stream([
      { p: 1, events: [tx('q', 10 * S, 'q')], othersIdle: false },
      { p: 0, events: [tx('b', 200 * S, 'm'), tx('z', 401 * S, 'o')], othersIdle: true },
      { p: 1, events: [tx('e', 150 * S, 'm')], othersIdle: false },
    ]);
    expect(realtime).toEqual([]);
    expect(logged.map((l) => [l.record.event.id, l.evaluatedOnArrival, l.decidedAfterWakeup])).toEqual([['e', false, { at: 399_999, order: 0 }]]);
    const dir = join(ws.dir, 'a');
    const batches: LineBatch[] = lines.map((l, p) => ({ source: `${TOPIC}:${p}`, firstOffset: 0, lines: l }));
    await new ParquetArchive(dir, def.schema).write((async function* () { yield* batches; })());
    const report = await reconcile({ def, realtime, archiveDir: dir, lateLog: logged });
    expect(report).toMatchObject({ different: 1, unexplained: 0, late_events: 0, causes: { idle_wakeup: 1 } });
    expect(report.differences.map((d) => [d.cell.id, d.realtime, d.replay, d.cause, d.late_events.map((e) => [e.id, e.source, e.offset])])).toEqual([
      ['b', null, { n: 2 }, 'idle_wakeup', [['e', `${TOPIC}:1`, 1]]]]);
  });
});
