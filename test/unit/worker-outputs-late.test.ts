import { describe, expect, it } from 'vitest';
import { fraudMultiCountry } from '../../examples/seed.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { LookbackRuleOperator } from '../../stream/operators/lookback-rule.ts';
import { WorkerOutputs } from '../../stream/worker-outputs.ts';

// A rule's events behind W but within the allowed lateness are evaluated on arrival and recorded in the
// late topic, flagged. `run` counted only the dropped ones ("71 late") while `results --late-output`
// exported both ("85 late events"): the worker now counts the others apart, as `stream` says them.
describe('a worker\'s late counts of a rule', () => {
  it('counts the events dropped as late and, apart, those evaluated on arrival; both are in the late topic', () => {
    const def = fraudMultiCountry();
    const names = topicNames('late-counts.');
    const outputs = new WorkerOutputs('partials', 'transactions', [def], [false], names, () => undefined);
    const op = new LookbackRuleOperator(def, outputs.emitterFor(0, 0));
    const position = { source: 'transactions:0', offset: 0 };
    const txn = (i: number, ts: number) => {
      position.offset = i;
      op.process({ txn_id: `t${i}`, ts, user_id: 'u1', country: 'FR', amount: 100 }, position);
    };
    txn(0, 1_000_000); // W = 1_000_000 - 30 s - 1 ms
    txn(1, 900_000); // behind W, within L = 5 min: evaluated on arrival
    txn(2, 100_000); // beyond L: dropped
    const { records, counts } = outputs.take();
    const late = records.filter((r) => r.topic === names.late).map((r) => JSON.parse(String(r.value)) as Record<string, unknown>);
    expect(late.map((l) => [l.offset, l.evaluated_on_arrival ?? false])).toEqual([[1, true], [2, false]]);
    expect(counts).toMatchObject({ late: 1, lateAccepted: 1, latePerPipeline: { [def.name]: 1 } });
  });
});
