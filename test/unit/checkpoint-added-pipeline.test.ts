import { describe, expect, it } from 'vitest';
import { pageViewsPerMinute, uniqueVisitors5m as visitors } from '../../examples/seed.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { CollectingEmitter } from '../../stream/operators/operator.ts';
import { CHECKPOINT_FORMAT, readPartitionCheckpoints } from '../../stream/partition-checkpoint.ts';

// `run --pipeline all` runs under the schema's group whatever the definitions file holds: a pipeline
// added to the file finds no checkpoint where the others have one (test/e2e/kafka-definitions-changed.test.ts
// over a real broker). Both refusals are the user's, exit 2, never "must be written in one transaction".
const checkpoint = (def: typeof pageViewsPerMinute, next: number) =>
  JSON.stringify({ format: CHECKPOINT_FORMAT, next, watermark: null, idle: false, operator: createOperator(def, new CollectingEmitter()).snapshot() });
const uniqueVisitors5m = visitors();
const refusal = (stored: Map<string, string>) => {
  try {
    readPartitionCheckpoints(stored, 'g|t|0', [pageViewsPerMinute, uniqueVisitors5m], 't:0');
  } catch (error) {
    return error as ConcordError;
  }
  throw new Error('not refused');
};

describe('checkpoints of one partition at different offsets', () => {
  it('a pipeline without one (added to the definitions) is named with the offset of the others and a run in a group of its own', () => {
    const error = refusal(new Map([['g|t|0|page_views_per_minute', checkpoint(pageViewsPerMinute, 40)]]));
    expect(error.domain).toBe('user');
    expect(error.message).toBe('"unique_visitors_5m" has no checkpoint of t:0 in this group, whose other pipelines are checkpointed there (page_views_per_minute at offset 40): ' +
      'a pipeline added to the definitions since the group ran. The group\'s offsets are past the events it never saw, so it would count only later ones. ' +
      'Run each added pipeline under a group of its own, which reads the topic from its start (`concord run --pipeline unique_visitors_5m`: group <prefix>concord-<pipeline> by default), ' +
      'or every pipeline under a new --group');
  });

  it('checkpoints at two offsets name both and a --group per set of pipelines', () => {
    const error = refusal(new Map([['g|t|0|page_views_per_minute', checkpoint(pageViewsPerMinute, 40)], ['g|t|0|unique_visitors_5m', checkpoint(uniqueVisitors5m, 12)]]));
    expect(error.domain).toBe('user');
    expect(error.message).toMatch(/^the checkpoints of t:0 in this group are at different offsets \(page_views_per_minute at offset 40, unique_visitors_5m at offset 12\): .*run each set under a --group of its own$/);
  });

  it('a pipeline without one beside others at offset 0 (nothing read yet) starts with them', () => {
    expect(readPartitionCheckpoints(new Map([['g|t|0|page_views_per_minute', checkpoint(pageViewsPerMinute, 0)]]), 'g|t|0', [pageViewsPerMinute, uniqueVisitors5m], 't:0').next).toBe(0);
  });
});
