import { ConcordError } from '../pipeline/errors.ts';
import type { OutRecord } from './kafka/client.ts';
import { fromWire, toWire, type WireWatermark } from './merge-messages.ts';

/**
 * The records of `<prefix>concord.watermarks` (compacted, one partition): how far each pipeline's
 * committed output reached, written in the same transaction as that output, so the store's watermark
 * moves with the stream and not only when a result row is written (a rule's alerts are rare; the rows of
 * a bounded run's drain all carry +infinity). The result rows and their topic stay as they are.
 *
 * - `partition` (key `pipeline|partition|group`: `partitionReportKey`), from the stream worker of
 *   consumer group `group` that owns input partition
 *   `partition` of `partitions`: while it runs, `watermark` is the W its operators fired windows and
 *   decided alerts by (the worker's firing W; only when it moved, only finite); once it drained,
 *   `drained` and `watermark` is the partition's own W (max ts - B - 1: the last real W of its input,
 *   never +infinity, -infinity when it held no event); `drained_at` says by which group and up to which
 *   input offset (the position after everything read), so another member of that group can tell the
 *   partition's last open windows fired (stream/group-drain.ts; absent in reports of older releases).
 * - `merge` (key `pipeline|merge`), from the merge stage of a pipeline whose keys span partitions: the W
 *   it merged and committed results up to (+infinity once every input partition drained: it bounds the
 *   workers' W, it is never the store's).
 */
export type WatermarkReport =
  | { type: 'partition'; pipeline: string; definition_version: string; partition: number; partitions: number; watermark: WireWatermark; drained: boolean; drained_at?: DrainedAt }
  | { type: 'merge'; pipeline: string; definition_version: string; watermark: WireWatermark };

/** Where a partition was drained: by a worker of consumer group `group`, with its input read up to offset `next`. */
export interface DrainedAt {
  group: string;
  next: number;
}

/**
 * The key of a partition's reports by the workers of `group`. Until 2026-12-06 it was `pipeline|partition`
 * (`legacyPartitionReportKey`): another group running the same pipeline overwrote a group's drain report on
 * the compacted topic. Such records stay there (a key no writer uses any more is never compacted away)
 * and are still read (stream/group-drain.ts).
 */
export const partitionReportKey = (pipeline: string, partition: number, group: string): string => `${pipeline}|${partition}|${group}`;
export const legacyPartitionReportKey = (pipeline: string, partition: number): string => `${pipeline}|${partition}`;

export function partitionReport(
  topic: string, r: { pipeline: string; version: string; group: string; partition: number; partitions: number; watermark: number; drained: boolean; drainedAt?: DrainedAt },
): OutRecord {
  if (r.watermark === Number.POSITIVE_INFINITY) throw new ConcordError(`${r.pipeline}: a partition's watermark report of +infinity (the drain reports the last real W)`);
  const value: WatermarkReport = {
    type: 'partition', pipeline: r.pipeline, definition_version: r.version, partition: r.partition, partitions: r.partitions, watermark: toWire(r.watermark), drained: r.drained,
    ...(r.drainedAt ? { drained_at: r.drainedAt } : {}),
  };
  return { topic, key: partitionReportKey(r.pipeline, r.partition, r.group), value: JSON.stringify(value) };
}

export function mergeReport(topic: string, r: { pipeline: string; version: string; watermark: number }): OutRecord {
  const value: WatermarkReport = { type: 'merge', pipeline: r.pipeline, definition_version: r.version, watermark: toWire(r.watermark) };
  return { topic, key: `${r.pipeline}|merge`, value: JSON.stringify(value) };
}

const isWire = (w: unknown): w is WireWatermark => (typeof w === 'number' && Number.isFinite(w)) || w === '+infinity' || w === '-infinity';
const isDrainedAt = (d: unknown): boolean => d === undefined ||
  (typeof d === 'object' && d !== null && typeof (d as DrainedAt).group === 'string' && Number.isInteger((d as DrainedAt).next) && (d as DrainedAt).next >= 0);

/** A record of the watermarks topic, checked (`where`: its place, for the message). */
export function decodeWatermarkReport(value: string, where: string): WatermarkReport {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(value) as Record<string, unknown>;
  } catch (error) {
    throw new ConcordError(`${where}: a watermark record is not JSON`, { cause: error });
  }
  const ok = typeof r === 'object' && r !== null && typeof r.pipeline === 'string' && typeof r.definition_version === 'string' && isWire(r.watermark) &&
    (r.type === 'merge' || (r.type === 'partition' && Number.isInteger(r.partition) && Number.isInteger(r.partitions) && (r.partitions as number) > (r.partition as number) && typeof r.drained === 'boolean' && r.watermark !== '+infinity' && isDrainedAt(r.drained_at)));
  if (!ok) throw new ConcordError(`${where}: not a watermark record: ${value.slice(0, 200)}`);
  return r as WatermarkReport;
}

/**
 * The latest report per input partition (and of the merge) of one pipeline, and the W its committed
 * output reached: over partitions, the least firing W of those still running, or, once every one
 * drained, the greatest own W (a drained partition holds nothing back, as an idle one: Flink's
 * end-of-input, without its +infinity). A partition never reported holds it unknown, and so does a
 * missing merge report of a merged pipeline; the merge's W bounds the workers'. Pure.
 */
export class PipelineWatermark {
  private readonly partitions = new Map<number, { watermark: number; drained: boolean; drainedAt?: DrainedAt }>();
  private count = 0;
  private merge: number | undefined;

  constructor(private readonly merged: boolean) {}

  report(r: WatermarkReport): void {
    if (r.type === 'merge') this.merge = fromWire(r.watermark);
    else {
      this.count = Math.max(this.count, r.partitions);
      this.partitions.set(r.partition, { watermark: fromWire(r.watermark), drained: r.drained, ...(r.drained_at ? { drainedAt: r.drained_at } : {}) });
    }
  }

  /** The W every committed output reached (undefined: not known yet, or not finite). */
  get current(): number | undefined {
    if (this.count === 0 || this.partitions.size < this.count) return undefined;
    const all = [...this.partitions.values()];
    const running = all.filter((p) => !p.drained);
    let w = running.length > 0 ? Math.min(...running.map((p) => p.watermark)) : Math.max(...all.map((p) => p.watermark));
    if (this.merged) w = this.merge === undefined ? Number.NEGATIVE_INFINITY : Math.min(w, this.merge);
    return Number.isFinite(w) ? w : undefined;
  }

  /**
   * Where the input ended once every partition drained (a bounded run's end; and the merge's, +infinity,
   * of a merged pipeline): per partition, by which group and up to which input offset. Undefined while
   * any partition runs or was never reported: an unbounded run never drains.
   */
  get drained(): { partition: number; drainedAt?: DrainedAt }[] | undefined {
    if (this.count === 0 || this.partitions.size < this.count) return undefined;
    if ([...this.partitions.values()].some((p) => !p.drained)) return undefined;
    if (this.merged && this.merge !== Number.POSITIVE_INFINITY) return undefined;
    return [...this.partitions].sort(([a], [b]) => a - b).map(([partition, p]) => ({ partition, ...(p.drainedAt ? { drainedAt: p.drainedAt } : {}) }));
  }
}

/**
 * What a writer last published per key (`pipeline|partition`, `pipeline|merge`): a report goes out only
 * when its W moved, not with every transaction. Forgotten with the state it came from (a refused
 * transaction's reports are published again).
 */
export class PublishedWatermarks {
  private readonly sent = new Map<string, number>();

  /** True (and remembered) when `w` is not what `key` last published. */
  moved(key: string, w: number): boolean {
    if (this.sent.get(key) === w) return false;
    this.sent.set(key, w);
    return true;
  }

  /** Forgets `keys` (none: every key). */
  forget(keys?: Iterable<string>): void {
    if (keys === undefined) this.sent.clear();
    else for (const k of keys) this.sent.delete(k);
  }
}
