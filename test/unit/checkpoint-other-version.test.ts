import { describe, expect, it } from 'vitest';
import { pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { CHECKPOINT_FORMAT, readPartitionCheckpoints } from '../../stream/partition-checkpoint.ts';
import { CollectingEmitter } from '../../stream/operators/operator.ts';

// A second team's worker started with the first team's CONCORD_TOPIC_PREFIX joins their group and finds
// their checkpoints, of their definition of a pipeline with the same name. "use a new --group" sent it
// on to run its definition over their topics in a group of its own; the likelier cause is the prefix.
describe('a partition checkpoint of another definition version', () => {
  it('is refused naming both causes: a changed definition (a new --group) or another deployment\'s group (the prefix, the definitions)', () => {
    const theirs = withTiming(pageViewsPerMinute, { allowedLateness: 60_000 });
    const stored = new Map([['g|t|0|page_views_per_minute', JSON.stringify({ format: CHECKPOINT_FORMAT, next: 5, watermark: null, idle: false, operator: createOperator(theirs, new CollectingEmitter()).snapshot() })]]);
    const read = () => readPartitionCheckpoints(stored, 'g|t|0', [pageViewsPerMinute], 'wd1_clicks:0');
    expect(read).toThrow(/page_views_per_minute: the checkpoint of wd1_clicks:0 is from another definition version/);
    expect(read).toThrow(/a new --group/);
    expect(read).toThrow(/CONCORD_TOPIC_PREFIX/);
    expect(read).toThrow(/--definitions/);
  });

  it('names every pipeline of the partition whose checkpoint is of another version, not the first only', () => {
    const views = withTiming(pageViewsPerMinute, { allowedLateness: 60_000 });
    const visitors = withTiming(uniqueVisitors5m(), { allowedLateness: 60_000 });
    const snapshot = (def: typeof views | typeof visitors) => JSON.stringify({ format: CHECKPOINT_FORMAT, next: 5, watermark: null, idle: false, operator: createOperator(def, new CollectingEmitter()).snapshot() });
    const stored = new Map([['g|t|0|page_views_per_minute', snapshot(views)], ['g|t|0|unique_visitors_5m', snapshot(visitors)]]);
    expect(() => readPartitionCheckpoints(stored, 'g|t|0', [pageViewsPerMinute, uniqueVisitors5m()], 'clicks:0'))
      .toThrow(/^page_views_per_minute, unique_visitors_5m: the checkpoints of clicks:0 are from other definition versions of each; if you changed the definition, run it under a new --group/);
  });
});
