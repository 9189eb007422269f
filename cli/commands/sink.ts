import { builtinPipelines } from '../../pipeline/builtins.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { parseDuration } from '../../pipeline/time.ts';
import { parseLateRow, parseResultLine } from '../../reconcile/realtime-input.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { BatchConsumer, endOffsets, ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { concordTopics, groupName, topicNames } from '../../stream/kafka/topics.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';

/**
 * `concord sink --from-kafka`: the workers' committed output (concord.results, concord.late) into the
 * result store. Offsets are committed after the store write; a restart re-reads at most one batch,
 * which the store's revision-guarded, idempotent upserts absorb: nothing lost, nothing doubled.
 */
export const sinkCommand: CommandSpec = {
  name: 'sink',
  summary: 'write the workers\' results and late events from Kafka into the result store (idempotent)',
  usage: 'concord sink --from-kafka [--store URL] [--stop-when-idle 5s] [--group G]',
  options: [
    '--from-kafka               read concord.results and concord.late (read_committed) in group <prefix>concord-store-sink',
    '--stop-when-idle D         exit once both topics are read to their end and quiet for D',
    '--group G                  consumer group (default <prefix>concord-store-sink)',
    ...storeOptions,
    ...timingOptions,
    '                           (the B and L the workers run with: rows are matched to those definitions)',
  ],
  flags: { 'from-kafka': { type: 'boolean' }, 'stop-when-idle': { type: 'string' }, group: { type: 'string' }, ...storeFlags, ...timingFlags },
  async run(v) {
    if (v['from-kafka'] !== true) throw new ConfigError('say where from: --from-kafka (the only source for now)');
    const timing = loadSettings(v);
    const defs = new Map<string, PipelineDefinition>(builtinPipelines.map((p) => [p.name, withTiming(p, timing)]));
    const names = topicNames();
    const settings = kafkaSettings('concord-sink');
    await ensureTopics(settings, concordTopics());
    const store = await openStore(storeUrl(v));
    const sink = new StoreSink(store);
    let lastRecordAt = Date.now();
    let skipped = 0;
    const positions = new Map<string, number>();
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const consumer = await BatchConsumer.start(settings, {
      groupId: String(v.group ?? groupName('concord-store-sink')),
      topics: [names.results, names.late],
      onPosition: (p) => positions.set(`${p.topic}:${p.partition}`, p.next),
      onBatch: async (batch) => {
        for (const r of batch.records) {
          const row = JSON.parse(r.value) as Record<string, unknown>;
          const def = defs.get(String(row.pipeline));
          if (!def) { skipped++; continue; }
          const where = `${batch.topic}:${batch.partition}@${r.offset}`;
          if (batch.topic === names.results) {
            const result = parseResultLine(def, row, r.offset);
            if (result) sink.result(result);
          } else {
            const late = parseLateRow(def, row, where);
            if (late) sink.lateEvent(late.record, late.evaluatedOnArrival);
          }
        }
        // Written before the offsets commit (BatchConsumer commits after this returns).
        await sink.flush();
        await sink.checkpointIfDue(); // after the commit, not inside it
        if (batch.records.length > 0) lastRecordAt = Date.now();
        return true;
      },
    });
    const quiet = v['stop-when-idle'] === undefined ? undefined : parseDuration(String(v['stop-when-idle']), '--stop-when-idle');
    process.once('SIGINT', () => stop());
    process.once('SIGTERM', () => stop());
    const timer = setInterval(() => {
      void (async () => {
        process.stderr.write(`sink: ${sink.written.results} results, ${sink.written.late} late events written\n`);
        if (quiet === undefined || Date.now() - lastRecordAt < quiet) return;
        for (const topic of [names.results, names.late]) {
          for (const [p, end] of await endOffsets(settings, topic)) if ((positions.get(`${topic}:${p}`) ?? 0) < end) return;
        }
        stop();
      })().catch(() => undefined);
    }, Math.min(1_000, quiet ?? 5_000));
    await stopped;
    clearInterval(timer);
    await consumer.stop();
    await sink.flush();
    await store.close();
    process.stderr.write(`sink: ${sink.written.results} results and ${sink.written.late} late events in the store${skipped ? `, ${skipped} rows of unknown pipelines skipped` : ''}\n`);
    return 0;
  },
};
