import type { WatermarkSnapshot } from '../pipeline/watermark.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import type { OperatorCheckpoint, OperatorSnapshot } from './operators/index.ts';
import { fromWire, toWire, type WireWatermark } from './merge-messages.ts';
import type { PartsCheckpoint } from './merge-checkpoints.ts';
import type { ForwardedEvent } from './rule-merge.ts';
import type { UpgradeFrom } from './upgrade-from.ts';

export interface RuleMergeSnapshot {
  readonly definition: string;
  /** The one operator's state (its W: the canonical clock). */
  readonly operator: OperatorSnapshot;
  /** Last forwarded offset merged, per input partition. */
  readonly offsets: [number, number][];
  /** The merged W: every partition's W and idleness (absent in checkpoints before the canonical order: the operator's). */
  readonly merged?: WatermarkSnapshot;
  /** Events received and not released yet (the merged W has not passed the W they met). */
  readonly held?: RuleEventWire[];
  /** How many events were fed out of the canonical order so far (absent: none; the next one's `order`). */
  readonly outOfOrder?: number;
}

/** A held event in a checkpoint (W as on the wire: infinities as text). */
type RuleEventWire = [partition: number, offset: number, verdict: WireWatermark, source: WireWatermark, event: AnyEvent];

/**
 * An incremental checkpoint (kafka-merge.ts): the stage without its held events and with its operator's
 * head only; each event held or released since the last one by `partition:offset` (its wire form as a
 * JSON array, or null: released), and each of the operator's keys changed since by `key\0<key>` (a JSON
 * object, or null: forgotten).
 */
export type RuleMergeDelta = PartsCheckpoint<RuleMergeSnapshot>;

const heldId = (e: { partition: number; offset: number }) => `${e.partition}:${e.offset}`;
/** The part id of one of the operator's keys: never a held event's `partition:offset`. */
const keyId = (key: string) => `key\u0000${key}`;

/**
 * The definition an operator head without its keys carries in a merge checkpoint. A release before the
 * operator's keys were parts compares it with its own version and refuses the checkpoint (its message
 * shows this text) instead of restoring the head as a rule that holds no key.
 */
const keysInParts = (version: string) => `${version} (keys in parts: written by a newer Concord; use a new --group)`;
const withoutOutOfOrder = ({ outOfOrder: _, ...head }: RuleMergeSnapshot): RuleMergeSnapshot => head;

export const toHeldWire = (e: ForwardedEvent): RuleEventWire => [e.partition, e.offset, toWire(e.verdictWatermark), toWire(e.sourceWatermark), e.event];
export const fromHeldWire = ([partition, offset, verdict, source, event]: RuleEventWire): ForwardedEvent =>
  ({ partition, offset, verdictWatermark: fromWire(verdict), sourceWatermark: fromWire(source), event });

/** The operator's snapshot as it restores: a head whose keys are parts carries the marked definition. */
export function operatorToRestore(operator: OperatorSnapshot, version: string): OperatorSnapshot {
  return operator.definition === keysInParts(version) ? { ...operator, definition: version } : operator;
}

/**
 * An incremental checkpoint read back: the head with the latest part (JSON) of every event still held
 * (an array) among its held events, and the parts of the operator's keys (objects), as the operator
 * restores them.
 */
export function fromParts(head: RuleMergeSnapshot, parts: Iterable<string>): { snapshot: RuleMergeSnapshot; keys: string[] } {
  const held = [...(head.held ?? [])];
  const keys: string[] = [];
  for (const json of parts) {
    if (json.startsWith('[')) held.push(JSON.parse(json) as RuleEventWire);
    else keys.push(json);
  }
  return { snapshot: { ...head, held }, keys };
}

/**
 * What the rule merge stage's next incremental checkpoint writes besides its head: the events held or
 * released since the last one, the operator's changed keys, and (for a release before keys were parts)
 * the key parts the last restore read, to delete.
 */
export class RuleMergeChanges {
  private readonly version: string;
  /** Events held or released since the last `checkpoint`, by id. */
  private readonly touched = new Map<string, ForwardedEvent>();
  private readonly released = new Set<string>();
  /** Ids of the operator's key parts the last restore read (a checkpoint for an older release deletes them). */
  private readonly keyParts = new Set<string>();

  constructor(version: string) {
    this.version = version;
  }

  held(e: ForwardedEvent): void {
    this.touched.set(heldId(e), e);
  }

  release(e: ForwardedEvent): void {
    if (!this.touched.delete(heldId(e))) this.released.add(heldId(e)); // held in a checkpoint already
  }

  clear(): void {
    this.touched.clear();
    this.released.clear();
    this.keyParts.clear();
  }

  /**
   * After a restore from parts: `keys`, the operator's key parts it read; `rewrite`, the events a head
   * held (a whole checkpoint: the next incremental one must write them all).
   */
  restored(keys: readonly string[], rewrite: Iterable<ForwardedEvent>): void {
    for (const json of keys) this.keyParts.add(keyId((JSON.parse(json) as { key: string }).key));
    for (const e of rewrite) this.touched.set(heldId(e), e);
  }

  /**
   * What changed since the last call: events held since (and still held), events released that a
   * checkpoint held, and the operator's keys changed (its whole state was in every head before: a merge
   * stage's rule rewrote every key it held with each batch). `head`: the stage without its held events,
   * taken after the operator's `checkpoint`.
   */
  delta(head: RuleMergeSnapshot, operator: OperatorCheckpoint, upgradeFrom?: UpgradeFrom): RuleMergeDelta {
    const parts: [string, string | null][] = [];
    for (const [id, e] of this.touched) parts.push([id, JSON.stringify(toHeldWire(e))]);
    for (const id of this.released) parts.push([id, null]);
    this.touched.clear();
    this.released.clear();
    const restoredKeys = [...this.keyParts];
    this.keyParts.clear();
    // As that release writes it (stream/upgrade-from.ts): the operator whole; the key parts it restored
    // deleted (1202aee would take them for held events). Its changed keys were taken (`operator`) all the same.
    // (Nor the count of out-of-order events, a field it never wrote.)
    if (upgradeFrom !== undefined) return { head: withoutOutOfOrder(head), parts: [...parts, ...restoredKeys.map((id): [string, null] => [id, null])] };
    for (const [key, json] of operator.parts) parts.push([keyId(key), json]);
    return { head: { ...head, operator: { ...operator.head, definition: keysInParts(this.version) } }, parts };
  }
}
