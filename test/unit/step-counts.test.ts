import { describe, expect, it } from 'vitest';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { WindowedOperator } from '../../stream/operators/windowed.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { RuleForwarder } from '../../stream/rule-merge-forwarder.ts';
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

  it('count the events a pipeline\'s where left out (concord_events_filtered_total): its late ratio is over the events it took', async () => {
    // 1 event in 10 is paid; of the 20 paid ones, 2 arrive after W passed their window's end (L = 0): 10% of
    // what the pipeline took is late, 1% of what it was given.
    const paid = parseDefinitions({
      schemas: { orders: { time: 'ts', id: 'id', key: 'shop', fields: { id: 'string', ts: 'timestamp', shop: 'string', status: 'string' } } },
      pipelines: { paid_1m: { input: 'orders', where: [['status', '=', 'paid']], key: ['shop'], window: { tumbling: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: '0s', allowed_lateness: '0s' } },
    }, 'step-counts-filter.json').pipelinesOf('orders')[0]! as WindowedPipeline;
    const outputs = new WorkerOutputs('partials', 'orders', [paid], [false], topicNames('step-counts.'), () => undefined);
    const op = new WindowedOperator(paid, outputs.emitterFor(0, 0));
    const events = Array.from({ length: 200 }, (_, i) => ({ id: `o${i}`, ts: 120_000 + i * 1_000, shop: 's1', status: i % 10 === 0 ? 'paid' : 'refunded' }));
    events.push({ id: 'late1', ts: 5_000, shop: 's1', status: 'paid' }, { id: 'late2', ts: 6_000, shop: 's1', status: 'paid' });
    events.forEach((e, offset) => op.process(e, { source: 'orders:0', offset }));
    const { counts } = outputs.take();
    counts.events = events.length;
    const metrics = new PromProcessMetrics();
    metrics.declare({ pipelines: [paid.name], inputs: ['orders'] });
    meterCommitted(metrics, 'orders', [paid.name], counts);
    const text = await metrics.registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name}\\{pipeline="paid_1m"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const [eventsIn, filtered, late] = [value('concord_events_in_total'), value('concord_events_filtered_total'), value('concord_late_events_total')];
    expect({ eventsIn, filtered, late }).toEqual({ eventsIn: events.length, filtered: events.filter((e) => e.status !== 'paid').length, late: 2 });
    // ConcordLateEventsSpike's ratio (examples/prometheus/concord-alerts.yml): over 1% of the events taken.
    expect(late / (eventsIn - filtered)).toBeGreaterThan(0.01);
    expect(late / eventsIn).toBeLessThanOrEqual(0.01);
  });

  it('count them for a rule merged across partitions too (its forwarder applies the where)', () => {
    const rule = parseDefinitions({
      schemas: { orders: { time: 'ts', id: 'id', key: 'shop', fields: { id: 'string', ts: 'timestamp', shop: 'string', city: 'string', status: 'string' } } },
      pipelines: { paid_burst: { input: 'orders', where: [['status', '=', 'paid']], key: 'city', rule: { within: '5m', count: true, more_than: 3, output: 'n' } } },
    }, 'step-counts-rule.json').pipelinesOf('orders')[0]!;
    const outputs = new WorkerOutputs('partials', 'orders', [rule], [true], topicNames('step-counts.'), () => undefined);
    const forwarded: unknown[] = [];
    const fwd = new RuleForwarder(rule as never, 0, new WatermarkTracker(rule.watermark.maxOutOfOrderness), outputs.emitterFor(0, 0), (m) => forwarded.push(m));
    const events = Array.from({ length: 12 }, (_, i) => ({ id: `o${i}`, ts: 1_000 * i, shop: `s${i}`, city: 'Oslo', status: i % 3 === 0 ? 'paid' : 'refunded' }));
    events.forEach((e, offset) => fwd.process(e, { source: 'orders:0', offset }));
    const { counts } = outputs.take();
    expect({ filtered: counts.filteredPerPipeline.get('paid_burst'), forwarded: forwarded.length })
      .toEqual({ filtered: events.filter((e) => e.status !== 'paid').length, forwarded: events.filter((e) => e.status === 'paid').length });
  });
});
