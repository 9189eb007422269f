import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import type { ResultRecord } from '../schemas/results.ts';
import { fromWire, progressWatermark, toForwardedEvent, toPartial, type MergeMessage } from './merge-messages.ts';
import type { CheckpointedStage } from './merge-checkpoints.ts';
import { outOfOrderLateRecord } from './out-of-order-log.ts';
import { PartialMergeStage, type PartialMergeSnapshot } from './partial-merge.ts';
import type { RuleMergeSnapshot } from './rule-merge-checkpoint.ts';
import { RuleMergeStage } from './rule-merge.ts';
import type { UpgradeFrom } from './upgrade-from.ts';

type StageSnapshot = PartialMergeSnapshot | RuleMergeSnapshot;

/** One pipeline's merge, windowed (PartialMergeStage) or rule (RuleMergeStage), behind one face. */
export interface PipelineMerge extends CheckpointedStage {
  accept(m: MergeMessage): void;
  advance(): ResultRecord[];
  /** Late-log records of what `advance` fed out of the canonical order (a rule's merge; stream/out-of-order-log.ts). */
  lateRecords(): { key: string; value: string }[];
  /** The W its results were merged up to (after `advance`). */
  readonly watermark: number;
  restore(head: StageSnapshot, parts: Iterable<string>): void;
  readonly duplicates: number;
}

/**
 * One pipeline's merge stage: its records from the partials topic checked against its definition version
 * and fed to its stage (KafkaMergeWorker keeps one per pipeline per owned partials partition). `where`:
 * the partials topic, for messages.
 */
export function pipelineMerge(def: PipelineDefinition, inputTopic: string, inputPartitions: number, where: string, upgradeFrom?: UpgradeFrom): PipelineMerge {
  const unexpected = (m: MergeMessage) => new ConcordError(`${where}: a ${m.type} record for ${def.kind} pipeline ${def.name}`);
  const version = definitionVersion(def);
  // A group's records come from one definition version (its workers refuse another's checkpoints); a
  // record of another one was written before the definition changed and has not been merged yet.
  const sameVersion = (m: MergeMessage) => {
    if (m.definition === version) return;
    throw new ConcordError(
      `${where} holds ${m.type} records of ${def.name} written under definition version ${String(m.definition)}, and this merge stage runs version ${version}: ` +
        'run a changed definition under a new --group (docs/operations.md, "Recovering")',
      { domain: 'user' },
    );
  };
  if (def.kind === 'windowed') {
    const stage = new PartialMergeStage(def, inputPartitions);
    return {
      accept: (m) => {
        sameVersion(m);
        if (m.type === 'partial') stage.partial(toPartial(m));
        else if (m.type === 'progress') stage.progress(m.partition, progressWatermark(m), fromWire(m.source_watermark));
        else throw unexpected(m);
      },
      advance: () => stage.advance(),
      lateRecords: () => [],
      get watermark() { return stage.watermark; },
      snapshot: () => stage.snapshot(),
      checkpoint: () => stage.checkpoint(),
      restore: (head, parts) => stage.restoreParts(head as PartialMergeSnapshot, parts),
      get duplicates() { return stage.stats.duplicates; },
    };
  }
  const stage = new RuleMergeStage(def, inputTopic, inputPartitions);
  return {
    accept: (m) => {
      sameVersion(m);
      if (m.type === 'event') stage.event(toForwardedEvent(m));
      else if (m.type === 'progress') stage.progress(m.partition, fromWire(m.source_watermark), m.idle);
      else throw unexpected(m);
    },
    advance: () => stage.advance(),
    lateRecords: () => stage.takeOutOfOrder().map((d) => outOfOrderLateRecord(def, inputTopic, version, d)),
    get watermark() { return stage.watermark; },
    snapshot: () => stage.snapshot(),
    checkpoint: () => stage.checkpoint(upgradeFrom),
    restore: (head, parts) => stage.restoreParts(head as RuleMergeSnapshot, parts),
    get duplicates() { return stage.stats.duplicates; },
  };
}
