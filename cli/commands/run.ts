import { hostname } from 'node:os';
import { mostRefusedWarning, reasonsText } from '../rejection-summary.ts';
import { topReasons } from '../../stream/rejection-reasons.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { parseDuration } from '../../pipeline/time.ts';
import { kafkaSettings } from '../../stream/kafka/client.ts';
import { missingTopics, probeBrokers } from '../../stream/kafka/admin.ts';
import { groupName, inputTopic, kafkaIdPart, needsMergeStage, partitionKeyField, topicNames } from '../../stream/kafka/topics.ts';
import { KafkaMergeWorker } from '../../stream/kafka-merge.ts';
import { ProgressLine } from '../../pipeline/progress-line.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { metricsFlags, metricsFromFlags, metricsOptions, metricsPort } from '../../serve/process-metrics.ts';
import type { CommandSpec } from '../args.ts';
import { logFlags, logOptions, processLog } from '../logging.ts';
import { loadSettings } from '../config.ts';
import { loadUpgradeFrom, upgradeFromFlags, upgradeFromOptions } from '../upgrade-from-config.ts';
import { applyKafkaFlags, checkKafkaNames, kafkaFlags, kafkaOptions, latePerPipeline, loadRegistry, pipelinesFor, timingFlags, timingOptions } from './shared.ts';
import { runWorkerProcesses, workerCount } from './run-workers.ts';
import { onStopSignal } from '../stop-signals.ts';
import { lateWindowSkipsLine } from '../late-window-skips.ts';

const pipelineNames = (pipelines: readonly PipelineDefinition[] | undefined): string => (pipelines ?? []).map((p) => p.name).join(', ');

export const runCommand: CommandSpec = {
  name: 'run',
  summary: 'streaming worker over Kafka: consumer group, per-partition watermarks, exactly-once results',
  usage: 'concord run --pipeline NAME|all [--stop-when-idle 10s] [--idle-timeout 30s] [--max-watermark-drift 10m] [--worker-id ID] [--workers N] [--group G] [--metrics-port N] [--upgrade-from R]',
  options: [
    '--pipeline NAME|all        a pipeline of the definitions, or all (one worker per input schema)',
    '--stop-when-idle D         exit once every assigned partition is caught up and quiet for D,',
    '                           after draining (W = +infinity: every open window fires), once the group',
    '                           drained every partition (a worker given none: once idle for D, the same)',
    '--idle-timeout D           a partition quiet for D stops holding the watermark (default 30s)',
    '--max-watermark-drift D    watermark alignment: stop fetching a partition whose event time runs more than D',
    '                           ahead of the slowest partition still reading, until it catches up (bounds what',
    '                           the merge stage holds back in a backfill; results unchanged). Default: none; env',
    '                           CONCORD_MAX_WATERMARK_DRIFT, config key maxWatermarkDrift',
    '--worker-id ID             stable id of this worker (default: host name); a restarted worker',
    '                           with the same id fences its previous incarnation',
    '--workers N                N worker processes of the group on this machine (like Flink\'s parallelism):',
    '                           ids <ID>-0..<ID>-(N-1), a fixed --metrics-port P becomes P..P+N-1',
    '                           (default 1; env CONCORD_WORKERS)',
    '--group G                  consumer group (default <prefix>concord-<schema>, or <prefix>concord-<pipeline>)',
    ...upgradeFromOptions,
    ...metricsOptions,
    ...logOptions,
    ...timingOptions,
    '                           Topics: <prefix><schema> (one per schema, keyed by its key) -> concord.results,',
    '                           concord.late, concord.dlq, concord.checkpoints, concord.watermarks (how far the',
    '                           committed output reached, the store\'s W), concord.partials.<schema>.<group>',
    '                           (the group\'s merge stage of pipelines keyed by another field); prefix: env CONCORD_TOPIC_PREFIX',
    ...kafkaOptions,
  ],
  flags: {
    pipeline: { type: 'string' }, 'stop-when-idle': { type: 'string' }, 'idle-timeout': { type: 'string' }, 'max-watermark-drift': { type: 'string' },
    'worker-id': { type: 'string' }, workers: { type: 'string' }, group: { type: 'string' }, ...upgradeFromFlags, ...metricsFlags, ...logFlags, ...timingFlags, ...kafkaFlags,
  },
  required: ['pipeline'],
  async run(v) {
    applyKafkaFlags(v);
    checkKafkaNames(v);
    const log = processLog(v, 'concord-run');
    const registry = await loadRegistry(v);
    const settings = loadSettings(v);
    const chosen = pipelinesFor(registry, v.pipeline, settings);
    const workerId = String(v['worker-id'] ?? hostname());
    const parallel = workerCount(v.workers);
    const upgradeFrom = loadUpgradeFrom(v);
    const upgrade = upgradeFrom === undefined ? {} : { upgradeFrom };
    // Checked before the broker is asked and before `--workers N` starts its processes: a bad duration was
    // said after the warnings that input topics were being created, or once by each worker process.
    const idleTimeoutMs = v['idle-timeout'] ? parseDuration(String(v['idle-timeout']), '--idle-timeout') : undefined;
    const stopWhenIdleMs = v['stop-when-idle'] ? parseDuration(String(v['stop-when-idle']), '--stop-when-idle') : undefined;
    metricsPort(v);
    // A --group is the group as named (Kafka's group.id), not under the topic prefix: two deployments that
    // name the same one share it, and the transactional ids made of it (their producers fence each other).
    const prefix = process.env.CONCORD_TOPIC_PREFIX ?? '';
    if (v.group !== undefined && prefix !== '' && process.env.CONCORD_LOG_WORKER === undefined && !String(v.group).startsWith(prefix)) {
      log.warn(`--group ${String(v.group)} is used as named, without the topic prefix ${JSON.stringify(prefix)}: another deployment that names the same group ` +
        `shares it and its transactional ids (concord-<group>-<worker id>), and their producers fence each other; name it ${prefix}${String(v.group)} to keep it this deployment's`);
    }
    // A broker that is not there, said once in seconds (the workers' clients retry for long, by design).
    await probeBrokers(kafkaSettings(`concord-run-${workerId}`));
    // Created empty and waited on, as before, but said: a misspelt CONCORD_TOPIC_PREFIX looked like a quiet
    // run (0 events, exit 0). Once per `run`: its worker processes (CONCORD_LOG_WORKER set) do not repeat it.
    if (process.env.CONCORD_LOG_WORKER === undefined) {
      const inputs = [...new Set(chosen.map((p) => inputTopic(p.schema.name)))];
      for (const topic of await missingTopics(kafkaSettings(`concord-run-${workerId}`), inputs)) {
        log.warn(`input topic ${topic} does not exist yet: creating it empty and waiting for its events (produce to it; ` +
          `the topic prefix is ${JSON.stringify(process.env.CONCORD_TOPIC_PREFIX ?? '')}, env CONCORD_TOPIC_PREFIX)`, { topic });
      }
    }
    if (upgradeFrom !== undefined && process.env.CONCORD_LOG_WORKER === undefined) {
      log.info(`--upgrade-from ${upgradeFrom}: writing only checkpoints release ${upgradeFrom} reads; once every worker of the group runs this release, restart each without it`);
    }
    const bySchema = new Map<string, PipelineDefinition[]>();
    for (const p of chosen) bySchema.set(p.schema.name, [...(bySchema.get(p.schema.name) ?? []), p]);
    // Per input, the consumer group its worker joins.
    const groupOf = (schema: string, pipelines: readonly PipelineDefinition[]) => {
      const all = registry.pipelinesOf(schema).length === pipelines.length;
      const named = String(v.group ?? groupName(all ? `concord-${schema}` : `concord-${pipelines.map((p) => p.name).join('+')}`));
      return bySchema.size > 1 && v.group ? `${named}-${kafkaIdPart(schema)}` : named;
    };
    if (parallel > 1) {
      const groups = [...bySchema].map(([schema, pipelines]) => ({ schema, group: groupOf(schema, pipelines), topic: inputTopic(schema), pipelines: pipelines.map((p) => p.name) }));
      return runWorkerProcesses(parallel, v, workerId, (line, fields) => log.info(line, fields), {
        settings: kafkaSettings(`concord-run-${workerId}`), groups, warn: (line, fields) => log.warn(line, fields),
      });
    }
    const served = await metricsFromFlags(v, log.lineSink());
    const metrics = served ? { metrics: served.metrics } : {};
    const merges: KafkaMergeWorker[] = [];
    const mergeLabels: string[] = [];
    const workers = [...bySchema].map(([schema, pipelines]) => {
      const group = groupOf(schema, pipelines);
      // Every worker process is also a member of the merge stage's group: pipelines whose keys span
      // partitions (partials of windowed ones, the accepted events of rules) are merged there, by
      // whichever member owns that pipeline's partials partition.
      const merged = pipelines.filter((p) => needsMergeStage(p));
      if (merged.length > 0) {
        mergeLabels.push(pipelineNames(merged));
        merges.push(new KafkaMergeWorker({
          pipelines: merged, settings: kafkaSettings(`concord-merge-${workerId}`), groupId: group, workerId, bounded: stopWhenIdleMs !== undefined,
          log: log.lineSink(schema), ...metrics, ...upgrade,
        }));
      }
      return new KafkaWorker({
        pipelines,
        settings: kafkaSettings(`concord-run-${workerId}`),
        groupId: group,
        workerId,
        ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
        ...(stopWhenIdleMs === undefined ? {} : { stopWhenIdleMs }),
        ...(settings.maxWatermarkDrift === undefined ? {} : { maxWatermarkDriftMs: settings.maxWatermarkDrift }),
        log: log.lineSink(schema), ...metrics, ...upgrade,
      });
    });
    const stop = () => [...workers, ...merges].forEach((w) => w.stop());
    onStopSignal(stop);
    const schemas = [...bySchema.keys()];
    const counts = (s: KafkaWorker['stats']) => ({
      events: s.events, results: s.results, late: s.late, lateAccepted: s.lateAccepted, latePerPipeline: { ...s.latePerPipeline }, lateWindowSkips: s.lateWindowSkips,
      rejected: s.deadLetters, misKeyed: s.misKeyed, transactions: s.transactions,
    });
    // The rejected by reason too: a misspelt path refuses most records for one reason (the first one said once).
    const said = (s: ReturnType<typeof counts>, schema: string, reasons: KafkaWorker['stats']['rejectionReasons']) =>
      // The rule events evaluated on arrival are in the late topic too: said apart, as `stream` does (`results --late-output` exported more than this said).
      `${s.events} events, ${s.results} results, ${s.late} late${s.lateAccepted > 0 ? ` (beyond the allowed lateness; ${s.lateAccepted} more within it, evaluated on arrival)` : ''}, ${s.rejected} rejected${s.rejected > 0 ? ` (${reasonsText(reasons, s.rejected)})` : ''}, ${s.misKeyed > 0 ? `${s.misKeyed} not keyed by the partition key, ` : ''}${s.transactions} transactions` +
      latePerPipeline(s.latePerPipeline, (bySchema.get(schema) ?? []).map((p) => p.name));
    // The first rejection of each input is said once, with where the others go (all rejected printed no reason).
    const toldRejection = new Set<number>();
    const tellRejection = (s: KafkaWorker['stats'], i: number) => {
      if (s.firstRejection === null || toldRejection.has(i)) return;
      toldRejection.add(i);
      log.warn(`run ${schemas[i] ?? '?'}: first rejected record: ${s.firstRejection}; every rejected record is in topic ${topicNames().deadLetter} (reason, field, partition, offset, raw)`,
        { context: schemas[i] ?? '?', firstRejection: s.firstRejection, deadLetterTopic: topicNames().deadLetter });
    };
    // Most of an input refused (a misspelt path or alias): said once per input, loudly, the run goes on.
    const toldRefused = new Set<number>();
    const tellMostRefused = (s: KafkaWorker['stats'], i: number) => {
      const schema = schemas[i] ?? '?';
      const warning = toldRefused.has(i) ? null : mostRefusedWarning({
        unit: 'records', read: s.events + s.deadLetters, deadLetters: s.deadLetters, reasons: s.rejectionReasons, schema,
        pipelines: (bySchema.get(schema) ?? []).map((p) => p.name),
      });
      if (warning === null) return;
      toldRefused.add(i);
      log.warn(`run ${schema}: ${warning}`, { context: schema, deadLetters: s.deadLetters, read: s.events + s.deadLetters, rejectedByReason: Object.fromEntries(topReasons(s.rejectionReasons, 3)) });
    };
    // Records not keyed by the partition key field: the per-partition pipelines' numbers are then shares (said once).
    const toldMisKeyed = new Set<number>();
    const tellMisKeyed = (s: KafkaWorker['stats'], i: number) => {
      if (s.firstMisKeyed === null || toldMisKeyed.has(i)) return;
      toldMisKeyed.add(i);
      const defs = bySchema.get(schemas[i] ?? '') ?? [];
      const field = defs[0] ? partitionKeyField(defs[0].schema) : '?';
      const apart = defs.filter((d) => !needsMergeStage(d)).map((d) => d.name).join(', ');
      log.warn(`run ${schemas[i] ?? '?'}: records not keyed by ${field} (first: ${s.firstMisKeyed}): ${apart} compute each partition apart, so a ${field} spread over ` +
        `partitions is counted in shares, and one share's result replaces another's; key each record by its ${field} (concord produce does), or, ` +
        `for a producer that cannot, leave \`key\` out of schema ${schemas[i] ?? '?'}: its pipelines then merge the partitions (docs/operations.md)`,
      { context: schemas[i] ?? '?', firstMisKeyed: s.firstMisKeyed, keyField: field });
    };
    // A progress line when its numbers moved: an idle stream said the same lines every 5 s for good.
    const progressLine = new ProgressLine((line, fields) => log.info(line, fields));
    const progress = setInterval(() => {
      workers.forEach((w, i) => {
        const schema = schemas[i] ?? '?';
        tellRejection(w.stats, i);
        tellMostRefused(w.stats, i);
        tellMisKeyed(w.stats, i);
        const c = counts(w.stats);
        progressLine.update(`run ${schema} (${pipelineNames(bySchema.get(schema))}): ${said(c, schema, w.stats.rejectionReasons)}`, { key: `run ${i}`, fields: { context: schema, pipelines: pipelineNames(bySchema.get(schema)), ...c } });
      });
      merges.forEach((m, i) => progressLine.update(`merge ${mergeLabels[i] ?? ''}: ${m.stats.partials} partials and rule events, ${m.stats.results} merged results`,
        { key: `merge ${i}`, fields: { context: 'merge', pipelines: mergeLabels[i], partials: m.stats.partials, results: m.stats.results } }));
    }, 5_000);
    const merging = merges.map((m) => m.run().catch((error: unknown) => {
      stop();
      throw error;
    }));
    for (const m of merging) m.catch(() => undefined); // awaited below; a failure stops the workers first
    try {
      const stats = await Promise.all(workers.map((w) => w.run())).catch((error: unknown) => {
        stop();
        throw error;
      });
      stats.forEach((s, i) => {
        const schema = schemas[i] ?? '?';
        tellRejection(s, i);
        tellMostRefused(s, i);
        tellMisKeyed(s, i);
        const perTxn = s.transactions > 0 ? `; per transaction: ${(s.checkpointBytes / s.transactions / 1024).toFixed(1)} KiB of checkpoints, commit ${(s.commitSeconds * 1000 / s.transactions).toFixed(1)} ms` : '';
        const aligned = `${settings.maxWatermarkDrift === undefined ? '' : `; alignment: ${s.alignmentPauses} pauses`}; event-time spread at most ${(s.maxWatermarkSpreadMs / 1000).toFixed(0)} s`;
        log.info(`${schema}: ${said(counts(s), schema, s.rejectionReasons)}${perTxn}${aligned}`, {
          context: schema, pipelines: pipelineNames(bySchema.get(schema)), final: true, ...counts(s), checkpointBytes: s.checkpointBytes, commitSeconds: Number(s.commitSeconds.toFixed(3)),
          maxWatermarkSpreadMs: s.maxWatermarkSpreadMs, ...(settings.maxWatermarkDrift === undefined ? {} : { alignmentPauses: s.alignmentPauses }),
        });
        // Under the summary line, as `stream` says it: the windows its hopping pipelines skipped a late event in.
        const skips = lateWindowSkipsLine(s.lateWindowSkips);
        if (skips !== null) log.info(skips, { context: schema, final: true, lateWindowSkips: s.lateWindowSkips });
      });
      // A bounded run ends once the merge has read every partial the drained workers wrote.
      if (v['stop-when-idle']) await Promise.all(merges.map((m) => m.stopWhenCaughtUp()));
      else merges.forEach((m) => m.stop());
      const merged = await Promise.all(merging);
      merged.forEach((m, i) => log.info(
        `merge ${mergeLabels[i] ?? ''}: ${m.partials} partials and rule events, ${m.progress} progress records, ${m.results} merged results, ${m.duplicates} duplicates` +
          (m.transactions > 0 ? `; per transaction: ${(m.checkpointBytes / m.transactions / 1024).toFixed(1)} KiB of checkpoints` : ''),
        { context: 'merge', pipelines: mergeLabels[i], final: true, ...m },
      ));
    } finally {
      clearInterval(progress);
      await served?.close();
      log.flush();
    }
    return 0;
  },
};
