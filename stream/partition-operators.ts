import type { PipelineDefinition } from '../pipeline/definition.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import { createOperator, type StreamOperator } from './operators/index.ts';
import type { PartitionCheckpoint } from './partition-checkpoint.ts';
import { RuleForwarder } from './rule-merge-forwarder.ts';
import type { WorkerOutputs } from './worker-outputs.ts';

/** A partition's watermark as a source of the firing W over partitions. */
export interface WatermarkSource {
  source: string;
  idle: boolean;
  watermark: number;
}

/**
 * One operator per pipeline for an input partition, restored from the partition's checkpoints where it
 * has them, and the partition's watermark per pipeline. Each operator carries the partition's own W
 * (restored from its checkpoint, never raised to another partition's): it judges the partition's
 * events, the same in every run. A rule merged across partitions forwards the events its partition
 * accepted (RuleForwarder).
 */
export function partitionOperators(
  pipelines: readonly PipelineDefinition[], merged: readonly boolean[], partition: number, source: string,
  checkpoints: readonly (PartitionCheckpoint | undefined)[], outputs: WorkerOutputs,
): { operators: StreamOperator[]; sources: WatermarkSource[] } {
  const sources: WatermarkSource[] = [];
  const operators = pipelines.map((def, i) => {
    const cp = checkpoints[i];
    sources.push({ source, idle: cp?.idle ?? false, watermark: cp?.watermark ?? Number.NEGATIVE_INFINITY });
    if (merged[i] && def.kind === 'rule') {
      const B = def.watermark.maxOutOfOrderness;
      const own = cp ? WatermarkTracker.restore(B, cp.operator.watermark) : new WatermarkTracker(B);
      return new RuleForwarder(def, partition, own, outputs.emitterFor(i, partition), (m) => outputs.toMerge(def.name, m));
    }
    return createOperator(def, outputs.emitterFor(i, partition), cp ? { restore: cp.operator } : {});
  });
  return { operators, sources };
}
