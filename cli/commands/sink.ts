import { withTiming } from '../../pipeline/definition.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { parseDuration } from '../../pipeline/time.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { missingTopics, probeBrokers } from '../../stream/kafka/admin.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { metricsFlags, metricsFromFlags, metricsOptions, metricsPort } from '../../serve/process-metrics.ts';
import type { CommandSpec } from '../args.ts';
import { logFlags, logOptions, processLog } from '../logging.ts';
import { loadSettings } from '../config.ts';
import { applyKafkaFlags, checkKafkaNames, kafkaFlags, kafkaOptions, loadRegistry, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';
import { onStopSignal } from '../stop-signals.ts';

/** `concord sink --from-kafka`: wires flags to KafkaStoreSink (store/kafka-store-sink.ts). */
export const sinkCommand: CommandSpec = {
  name: 'sink',
  summary: 'write the workers\' results and late events from Kafka into the result store (idempotent)',
  usage: 'concord sink --from-kafka [--store URL] [--stop-when-idle 5s] [--group G] [--metrics-port N]',
  options: [
    '--from-kafka               read concord.results and concord.late (read_committed) in group <prefix>concord-store-sink,',
    '                           and concord.watermarks: how far the workers\' (and merge stages\') committed output',
    '                           reached, the store\'s watermark per pipeline (it seals days; kept as the max, written',
    '                           once the rows it covers are in the store; a bounded run\'s is its last real W, never +infinity),',
    '                           and from concord.dlq the events the workers quarantined for their time (future_timestamp,',
    '                           past_horizon) or refused for a field (reconcile\'s evidence)',
    '--stop-when-idle D         exit once the topics are read to their end, their watermarks written, and quiet for D',
    '--group G                  consumer group (default <prefix>concord-store-sink); one per store. It resumes from',
    '                           the offsets the store recorded with its rows (a backup restored: the records since are',
    '                           read and written again, said in a line), not the group\'s; refused (exit 2) when the',
    '                           topics no longer hold them (retention deleted them). A group that read records into',
    '                           another store is refused beside a store that holds nothing (exit 2, naming a new group)',
    ...kafkaOptions,
    ...storeOptions,
    ...metricsOptions,
    ...logOptions,
    ...timingOptions,
    '                           (the B and L the workers run with: rows are matched to those definitions;',
    '                           rows of pipelines the definitions do not have, and result rows and late events',
    '                           of another version of one (another group ran a changed definition, another',
    '                           deployment\'s definition shares its name, or other B and L) are skipped and counted)',
  ],
  flags: { 'from-kafka': { type: 'boolean' }, 'stop-when-idle': { type: 'string' }, group: { type: 'string' }, ...storeFlags, ...metricsFlags, ...logFlags, ...timingFlags, ...kafkaFlags },
  async run(v) {
    applyKafkaFlags(v);
    checkKafkaNames(v);
    if (v['from-kafka'] !== true) throw new ConfigError('say where from: --from-kafka (the only source for now)');
    const log = processLog(v, 'concord-sink');
    const timing = loadSettings(v);
    const registry = (await loadRegistry(v)).map((p) => withTiming(p, timing));
    const quiet = v['stop-when-idle'] === undefined ? undefined : parseDuration(String(v['stop-when-idle']), '--stop-when-idle');
    metricsPort(v);
    const settings = kafkaSettings('concord-sink');
    await probeBrokers(settings);
    // The store before the topics: a bad --store or a store that does not open was said only after the
    // missing topics had been made (and the warning that they were).
    const store = await openStore(storeUrl(v), { registry });
    let served: Awaited<ReturnType<typeof metricsFromFlags>>;
    try {
      // Only the topics it reads; missing ones are created empty and waited on, but said (a misspelt
      // CONCORD_TOPIC_PREFIX once made every schema's topics and ended with 0 results, exit 0).
      const names = topicNames();
      const read = concordTopics(registry).filter((t) => t.name === names.results || t.name === names.late);
      const missing = await missingTopics(settings, read.map((t) => t.name));
      if (missing.length > 0) {
        log.warn(`${missing.join(' and ')} ${missing.length > 1 ? 'do' : 'does'} not exist yet (no \`concord run\` has written under the topic prefix ` +
          `${JSON.stringify(process.env.CONCORD_TOPIC_PREFIX ?? '')}, env CONCORD_TOPIC_PREFIX): creating ${missing.length > 1 ? 'them' : 'it'} empty and waiting`, { topics: missing });
      }
      // The watermarks and dead-letter topics too (workers make them; a sink started first waits on them like
      // the others), unsaid: the workers' bookkeeping, and its dead letters only as the stream's quarantine verdicts.
      await ensureTopics(settings, [...read, ...concordTopics(registry).filter((t) => t.name === names.watermarks || t.name === names.deadLetter)]);
      served = await metricsFromFlags(v, log.lineSink());
    } catch (error) {
      await store.close();
      throw error;
    }
    try {
      const sink = new KafkaStoreSink({
        settings, store, pipelines: registry.pipelines,
        ...(v.group === undefined ? {} : { groupId: String(v.group) }),
        ...(quiet === undefined ? {} : { stopWhenIdleMs: quiet }),
        log: log.lineSink(),
        ...(served ? { metrics: served.metrics } : {}),
      });
      onStopSignal(() => sink.stop());
      const stats = await sink.run();
      const skipped = [
        ...(stats.skipped ? [`${stats.skipped} rows of pipelines not in ${registry.origin}`] : []),
        ...(stats.otherVersion ? [`${stats.otherVersion} result rows of another definition version (another group's definition, or other --max-out-of-orderness/--allowed-lateness than these)`] : []),
        ...(stats.otherVersionLate ? [`${stats.otherVersionLate} late events of another definition version`] : []),
      ];
      log.info(`sink: ${stats.results} results and ${stats.late} late events in the store${skipped.length ? `; skipped: ${skipped.join(', ')}` : ''}`, { final: true, ...stats });
    } finally {
      await served?.close();
      await store.close();
      log.flush();
    }
    return 0;
  },
};
