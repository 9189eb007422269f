import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { EventSchema } from '../schemas/schema.ts';
import { BatchConsumer, CaughtUpWatch, type InBatch, type KafkaSettings } from '../stream/kafka/client.ts';
import { committedOffsets, startOffsets, topicId, topicPartitions } from '../stream/kafka/admin.ts';
import { PartitionsAddedWatch } from '../stream/kafka/partitions-added.ts';
import { groupName, inputTopic } from '../stream/kafka/topics.ts';
import { ConsumerLagReport } from '../stream/kafka/consumer-lag.ts';
import { makeArchiveFolder } from './archive-folder.ts';
import { rejectedDir, schemaDir, sourceTag } from './archive-layout.ts';
import { claimKafkaTopic } from './archive-sources.ts';
import { ParquetArchive, listArchiveFiles } from './parquet-archive.ts';
import type { LineProblem } from '../sources/line-limits.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';

export interface KafkaArchiverOptions {
  schema: EventSchema;
  /** The fields the definitions sketch with HyperLogLog (`Registry.sketchedFields`): their hashes are archived too. */
  sketched: readonly string[];
  dir: string;
  settings: KafkaSettings;
  groupId?: string;
  /** Write a partition's buffer once it holds this many records (default 50 000)... */
  flushRecords?: number;
  /** ...or once its oldest buffered record waited this long (default 60 s: ARCHIVE_FLUSH_INTERVAL_MS). */
  flushIntervalMs?: number;
  stopWhenIdleMs?: number;
  log?: (line: string) => void;
  /** What an operator should see: records deleted from the topic before they were archived. */
  warn?: (line: string) => void;
  /** Metrics of the process (serve/process-metrics.ts): records archived, flush latency. */
  metrics?: ProcessMetrics;
}

/**
 * A partition's buffer is written at least this often. Each flush is a Parquet file per event-time hour
 * (plus a dead-letter file when it rejected any): at 5 s a live topic of 6 partitions made ~100,000 files
 * a day, every one a file for each replay of the day to open (docs/benchmarks.md, "Archive flush interval").
 */
export const ARCHIVE_FLUSH_INTERVAL_MS = 60_000;

interface Buffered {
  lines: string[];
  offsets: number[];
  timestamps: number[];
  /** Records that are no event (tombstones, empty, not UTF-8, too long), by index: written to _rejected. */
  problems: Map<number, LineProblem>;
  since: number;
}

/**
 * Archives a raw topic into the Parquet layout of `concord archive`, in its own consumer group.
 * Each flush of a partition writes `<topic>_<partition>-<first>-<last>` files (one per event-time
 * hour, temp then rename), then a commit marker in `_committed/` (replacing the partition's previous
 * one: flushes are sequential, so the newest marker vouches for every file up to its offset), then the
 * consumer offset. On assignment, files starting past the last marked offset (a flush killed before its
 * marker) are removed and records up to it are skipped: a kill at any point leaves no duplicate rows and no gaps. The markers count
 * offsets of the topic as it is (its id, claimed in the archive's `_sources.json`): a topic deleted and
 * made again is refused, not skipped as already archived.
 */
export class KafkaArchiver {
  private readonly o: KafkaArchiverOptions;
  private readonly topic: string;
  private readonly archive: ParquetArchive;
  private readonly buffers = new Map<number, Buffered>();
  /** Last archived offset per partition (-1: none). */
  private readonly archived = new Map<number, number>();
  private consumer: BatchConsumer | undefined;
  /** The topic's partition count since start: partitions added stop the archiver (a restart archives them). */
  private added: PartitionsAddedWatch | undefined;
  private groupId = '';
  private ready: Promise<void> = Promise.resolve();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly watch: CaughtUpWatch;
  private finished!: () => void;
  private failed!: (error: unknown) => void;
  /** records read; events archived and records rejected (to _rejected, with the reason); skipped: archived before. */
  readonly stats = { records: 0, events: 0, rejected: 0, flushes: 0, skipped: 0, deleted: 0 };
  /** Per partition, the start offset a deletion was said for (said once, not at every rebalance). */
  private readonly toldDeleted = new Map<number, number>();

  constructor(options: KafkaArchiverOptions) {
    this.o = options;
    this.topic = inputTopic(options.schema.name);
    this.archive = new ParquetArchive(options.dir, options.schema, { sketched: options.sketched });
    this.watch = new CaughtUpWatch(options.settings, options.stopWhenIdleMs);
    options.metrics?.declare({ archived: [this.topic] });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private markerDir(): string {
    return join(schemaDir(this.o.dir, this.o.schema), '_committed');
  }

  private tag(partition: number): string {
    return sourceTag(`${this.topic}:${partition}`);
  }

  async run(): Promise<typeof this.stats> {
    const done = new Promise<void>((resolve, reject) => {
      this.finished = resolve;
      this.failed = reject;
    });
    await claimKafkaTopic(this.o.dir, this.o.schema, this.topic, await topicId(this.o.settings, this.topic));
    const groupId = (this.groupId = this.o.groupId ?? groupName(`concord-archiver-${this.o.schema.name}`));
    await this.checkGroupMatchesArchive(groupId);
    this.added = new PartitionsAddedWatch(this.o.settings, this.topic, await topicPartitions(this.o.settings, this.topic));
    this.consumer = await BatchConsumer.start(this.o.settings, {
      groupId,
      topics: [this.topic],
      commit: 'none',
      onError: (error) => this.failed(error),
      onPosition: (p) => this.watch.position(p.topic, p.partition, p.next),
      onAssignment: (assigned) => {
        const mine = assigned.filter((a) => a.topic === this.topic).map((a) => a.partition);
        this.watch.assigned();
        this.ready = this.exclusive(() => this.assign(mine));
      },
      onBatch: async (batch) => {
        try {
          await this.ready;
          await this.exclusive(() => this.buffer(batch));
          return true;
        } catch (error) {
          this.failed(error);
          return false;
        }
      },
    });
    const timer = setInterval(() => {
      void this.exclusive(() => this.tick()).catch((error) => this.failed(error));
    }, 250);
    const lag = this.o.metrics && new ConsumerLagReport(this.o.metrics, this.o.settings, () => new Map([[this.topic, [...this.archived.keys()]]]), (topic, p) => this.watch.next(topic, p));
    try {
      await done;
    } finally {
      clearInterval(timer);
      lag?.stop();
      await this.consumer.stop().catch(() => undefined);
    }
    return this.stats;
  }

  stop(): void {
    this.finished();
  }

  /**
   * The group's offsets are committed after each flush's marker, so they never pass this archive's last
   * marker + 1. When they do, the group archived into another directory (or the markers were removed):
   * it would resume there and this archive would get nothing (0 records read, exit 0). Refused instead.
   */
  private async checkGroupMatchesArchive(groupId: string): Promise<void> {
    const committed = await committedOffsets(this.o.settings, groupId, this.topic);
    if (committed.size === 0) return;
    await makeArchiveFolder(this.markerDir());
    const markers = await readdir(this.markerDir());
    for (const [p, offset] of [...committed].sort((a, b) => a[0] - b[0])) {
      const next = lastMarked(markers, `${this.tag(p)}-`) + 1;
      if (offset <= next) continue;
      throw new ConfigError(
        `consumer group ${groupId} has archived ${this.topic} partition ${p} up to offset ${offset}, but ${this.o.dir} holds it only up to ${next} ` +
          '(the group archived into another directory, or its markers were removed): archive into this directory under a group of its own, ' +
          '`--group NAME` (it reads the topic from its start; records this directory holds are skipped)',
      );
    }
  }

  /** Removes half-written flushes (files without a marker) and finds where each partition stands. */
  private async assign(partitions: number[]): Promise<void> {
    // Fetch positions of the membership that ended no longer hold: a partition restarts after its last marker.
    this.watch.forget();
    await makeArchiveFolder(this.markerDir());
    const markers = await readdir(this.markerDir());
    const files = await listArchiveFiles(this.o.dir, this.o.schema);
    let rejected: string[] = [];
    try {
      rejected = (await readdir(rejectedDir(this.o.dir, this.o.schema))).map((f) => join(rejectedDir(this.o.dir, this.o.schema), f));
    } catch {
      rejected = [];
    }
    // Partitions handed away are another member's now: no longer this one's to finish (CaughtUpWatch.finished).
    for (const p of [...this.archived.keys()]) if (!partitions.includes(p)) this.archived.delete(p);
    for (const p of partitions) {
      const prefix = `${this.tag(p)}-`;
      const last = lastMarked(markers, prefix);
      for (const file of [...files, ...rejected]) {
        const name = file.slice(file.lastIndexOf('/') + 1).replace(/\.(parquet|jsonl)$/, '');
        const range = name.startsWith(prefix) ? /^(\d+)-\d+$/.exec(name.slice(prefix.length)) : null;
        if (range && Number(range[1]) > last) await rm(file, { force: true });
      }
      this.archived.set(p, last);
      this.buffers.delete(p);
    }
    await this.sayDeleted(partitions);
    this.o.log?.(`archiving ${this.topic} partitions [${partitions.join(', ')}] into ${this.o.dir}`);
  }

  /**
   * Records deleted from the topic (retention, DeleteRecords) before this archive got them: the group
   * resumes at the topic's first record, past them, and said nothing (the archive had a hole, found only
   * by the next day's reconcile, or not at all before an archive's first offset). Said once per partition.
   */
  private async sayDeleted(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    const starts = await startOffsets(this.o.settings, this.topic);
    for (const p of partitions) {
      const next = (this.archived.get(p) ?? -1) + 1, start = starts.get(p) ?? 0;
      if (start <= next || this.toldDeleted.get(p) === start) continue;
      const counted = this.toldDeleted.get(p) ?? next;
      this.toldDeleted.set(p, start);
      this.stats.deleted += start - Math.max(counted, next);
      (this.o.warn ?? this.o.log)?.(
        `${this.topic}:${p}: records ${next}..${start - 1} (${start - next}) were deleted from the topic (retention, DeleteRecords) before this archive got them: ` +
          (next > 0
            ? 'the archive has a gap there, which reconcile names archive_gap'
            : `this archive begins at offset ${start}; reconcile sees no gap before an archive's first offset, so what the stream counted from them is unexplained`) +
          '; keep the topic longer than the archiver may be down (retention.ms)',
      );
    }
  }

  private async buffer(batch: InBatch): Promise<void> {
    const done = this.archived.get(batch.partition) ?? -1;
    let b = this.buffers.get(batch.partition);
    for (const r of batch.records) {
      this.stats.records++;
      if (r.offset <= done || (b && r.offset <= b.offsets.at(-1)!)) {
        this.stats.skipped++;
        continue;
      }
      if (!b) this.buffers.set(batch.partition, (b = { lines: [], offsets: [], timestamps: [], problems: new Map(), since: Date.now() }));
      // A record whose value is no event (the consumer judged it: tombstone, empty, not UTF-8, too long)
      // is a dead letter with its reason, never silently dropped.
      if (r.problem) b.problems.set(b.lines.length, r.problem);
      b.lines.push(r.value);
      b.offsets.push(r.offset);
      b.timestamps.push(r.timestamp);
    }
    if (batch.records.length > 0) this.watch.heard();
    if (b && b.lines.length >= (this.o.flushRecords ?? 50_000)) await this.flush(batch.partition);
  }

  private async flush(partition: number): Promise<void> {
    const b = this.buffers.get(partition);
    if (!b || b.lines.length === 0) return;
    const first = b.offsets[0]!, last = b.offsets.at(-1)!;
    const stem = `${this.tag(partition)}-${first}-${last}`;
    const source = `${this.topic}:${partition}`;
    const started = performance.now();
    const written = await this.archive.write((async function* () {
      yield { source, firstOffset: first, lines: b.lines, offsets: b.offsets, ingestTimes: b.timestamps, problems: b.problems };
    })(), { mode: 'append', stem });
    await writeFile(join(this.markerDir(), stem), `${new Date().toISOString()}\n`);
    await this.dropOlderMarkers(partition, stem);
    await this.consumer!.commit(this.topic, partition, last + 1);
    this.archived.set(partition, last);
    this.buffers.delete(partition);
    this.stats.flushes++;
    this.stats.events += written.events;
    this.stats.rejected += written.deadLetters;
    this.o.metrics?.archived(this.topic, b.lines.length, (performance.now() - started) / 1000);
  }

  /**
   * Only a partition's newest marker counts (lastMarked): one marker per flush forever grew `_committed/`
   * by ~100,000 entries a day, all read at every assignment.
   */
  private async dropOlderMarkers(partition: number, newest: string): Promise<void> {
    const prefix = `${this.tag(partition)}-`;
    for (const m of await readdir(this.markerDir())) {
      if (m !== newest && m.startsWith(prefix) && /^\d+-\d+$/.test(m.slice(prefix.length))) await rm(join(this.markerDir(), m), { force: true });
    }
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    await this.added?.check(`restart \`concord archive --from-kafka\` (every archiver of group ${this.groupId}; a supervisor does) to archive the new ones`, now);
    for (const [p, b] of this.buffers) if (now - b.since >= (this.o.flushIntervalMs ?? ARCHIVE_FLUSH_INTERVAL_MS)) await this.flush(p);
    if (this.watch.quiet(now) && this.archived.size > 0) {
      for (const p of [...this.buffers.keys()]) await this.flush(p);
      for (const [p, last] of this.archived) this.watch.position(this.topic, p, last + 1);
      // Its own partitions archived, and the topic's others archived by the group or a live member's (a killed one's come here).
      if (this.buffers.size === 0 && (await this.watch.finished(this.topic, this.archived.keys(), { groupId: this.groupId, ...(this.o.log ? { log: this.o.log } : {}) }, now))) this.finished();
    }
  }
}

/** The last offset the commit markers of one partition (`<tag>-`) vouch for; -1: none. */
function lastMarked(markers: Iterable<string>, prefix: string): number {
  let last = -1;
  for (const m of markers) {
    const range = /^(\d+)-(\d+)$/.exec(m.slice(prefix.length));
    if (m.startsWith(prefix) && range) last = Math.max(last, Number(range[2]));
  }
  return last;
}
