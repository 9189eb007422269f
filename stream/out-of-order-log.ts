import type { RulePipeline } from '../pipeline/definition.ts';
import { formatWatermark } from '../pipeline/time.ts';
import { lateToJson } from '../schemas/results.ts';
import type { OutOfOrderDecision } from './rule-merge.ts';

/**
 * The late log's record of an event a rule's merge stage fed out of the canonical order (its partition
 * woke up from idle behind the merge): the worker's verdict (`watermark`, `evaluated_on_arrival`) and
 * where the merge took it (`decided_after_wakeup`: the clock then, and its rank among such events).
 * Written in the transaction of the merge's alerts, keyed as the worker's record of the event (same
 * late-topic partition, after it); its identity is the event's position (`source`, `offset`), so the
 * store keeps one record per event, this one. Reconcile's rule recomputation feeds the event at that
 * point (reconcile/rule-recompute.ts) and names what it changed `idle_wakeup`. `event` holds the fields
 * the pipeline reads only (as forwarded to the merge).
 */
export function outOfOrderLateRecord(def: RulePipeline, inputTopic: string, version: string, d: OutOfOrderDecision): { key: string; value: string } {
  const source = `${inputTopic}:${d.partition}`;
  const value = {
    ...lateToJson({ pipeline: def.name, event: d.event, position: { source, offset: d.offset }, watermark: d.verdictWatermark }, def.schema),
    source, offset: d.offset,
    ...(d.evaluatedOnArrival ? { evaluated_on_arrival: true } : {}),
    decided_after_wakeup: { at: formatWatermark(d.decidedAt), order: d.order },
    definition_version: version,
  };
  return { key: `${def.name}|${String(d.event[def.schema.idField] ?? '')}`, value: JSON.stringify(value) };
}
