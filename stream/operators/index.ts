import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { LookbackRuleOperator } from './lookback-rule.ts';
import type { Emitter, OperatorOptions, StreamOperator } from './operator.ts';
import { WindowedOperator } from './windowed.ts';

export { CollectingEmitter, type Emitter, type OperatorCheckpoint, type OperatorOptions, type OperatorSnapshot, type StreamOperator } from './operator.ts';

/** The stream runtime's interpretation of a definition. */
export function createOperator(def: PipelineDefinition, emitter: Emitter, options: OperatorOptions = {}): StreamOperator {
  return def.kind === 'windowed' ? new WindowedOperator(def, emitter, options) : new LookbackRuleOperator(def, emitter, options);
}
