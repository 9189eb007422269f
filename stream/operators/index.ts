import type { PipelineDefinition } from '../../pipeline/definition.ts';
import type { WatermarkTracker } from '../../pipeline/watermark.ts';
import { LookbackRuleOperator } from './lookback-rule.ts';
import type { Emitter, StreamOperator } from './operator.ts';
import { WindowedOperator } from './windowed.ts';

export { CollectingEmitter, type Emitter, type StreamOperator } from './operator.ts';

/** The stream runtime's interpretation of a definition. */
export function createOperator(def: PipelineDefinition, emitter: Emitter, tracker?: WatermarkTracker): StreamOperator {
  return def.kind === 'windowed' ? new WindowedOperator(def, emitter, tracker) : new LookbackRuleOperator(def, emitter, tracker);
}
