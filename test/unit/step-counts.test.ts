import { describe, expect, it } from 'vitest';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { WindowedOperator } from '../../stream/operators/windowed.ts';
import { addCommitted, meterCommitted } from '../../stream/step-counts.ts';
import { WorkerOutputs } from '../../stream/worker-outputs.ts';

// A worker's counts go with its step's records: what a refused or dropped step counted (read again by the
// partition's next owner) never reaches the totals `run` prints or the counters it exports.
const registry = parseDefinitions({
  schemas: { views: { time: 'ts', id: 'id', key: 'url', fields: { id: 'string', ts: 'timestamp', url: 'string' } } },
  pipelines: { views_2m: { input: 'views', key: ['url'], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: '0s', allowed_lateness: '0s' } },
}, 'step-counts.json');
const def = registry.pipelinesOf('views')[0]! as WindowedPipeline;

/** A hopping pipeline's operator over one partition; B = L = 0 (e3 late for its older window, e4 for both). */
function outputsAfterLateEvents(): WorkerOutputs {
  const outputs = new WorkerOutputs('partials', 'views', [def], [false], topicNames('step-counts.'), () => undefined);
  const op = new WindowedOperator(def, outputs.emitterFor(0, 0));
  [0, 150_000, 70_000, 10_000].forEach((ts, i) => op.process({ id: `e${i + 1}`, ts, url: '/a' }, { source: 'views:0', offset: i }));
  return outputs;
}

describe('a stream worker\'s counts of a step', () => {
  it('are taken with its records: late events, and each hopping window that skipped a late event', () => {
    const { counts } = outputsAfterLateEvents().take();
    expect({ late: counts.late, skips: counts.lateWindowSkips, perPipeline: counts.latePerPipeline }).toEqual({ late: 1, skips: 3, perPipeline: { views_2m: 1 } });
  });

  it('are dropped with them (a refused transaction\'s work): the totals keep what committed only', () => {
    const outputs = outputsAfterLateEvents();
    outputs.counts.events = 4;
    outputs.clear();
    const totals = { events: 0, deadLetters: 0, firstRejection: null, rejectionReasons: new Map(), misKeyed: 0, firstMisKeyed: null, late: 0, latePerPipeline: {}, lateWindowSkips: 0, lateAccepted: 0, results: 0 };
    addCommitted(totals, outputs.take().counts);
    expect(totals).toMatchObject({ events: 0, late: 0, lateWindowSkips: 0 });
    const committed = outputsAfterLateEvents().take().counts;
    addCommitted(totals, committed);
    addCommitted(totals, committed);
    expect(totals).toMatchObject({ late: 2, lateWindowSkips: 6, latePerPipeline: { views_2m: 2 } });
  });

  it('reach the metrics when committed: concord_late_window_skips_total beside concord_late_events_total', async () => {
    const metrics = new PromProcessMetrics();
    metrics.declare({ pipelines: [def.name], inputs: ['views'] });
    const { counts } = outputsAfterLateEvents().take();
    counts.events = 4;
    meterCommitted(metrics, 'views', [def.name], counts);
    const text = await metrics.registry.metrics();
    expect(text).toContain('concord_late_window_skips_total{pipeline="views_2m"} 3');
    expect(text).toContain('concord_late_events_total{pipeline="views_2m"} 1');
    expect(text).toContain('concord_events_in_total{pipeline="views_2m"} 4');
  });
});
