import { definitionVersion } from '../../pipeline/definition.ts';
import { ofOtherVersion } from '../../reconcile/realtime-input.ts';
import { kafkaSettings, readLatestByKey, readToEnd } from '../../stream/kafka/client.ts';
import { probeBrokers, requireTopics } from '../../stream/kafka/admin.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';
import { applyKafkaFlags, checkKafkaNames, kafkaFlags, kafkaConfigOption, kafkaOptions, loadRegistry } from './shared.ts';

export const resultsCommand: CommandSpec = {
  name: 'results',
  summary: 'export the latest realtime results from Kafka (concord.results) to JSONL, e.g. for reconcile',
  usage: 'concord results --output OUT.jsonl [--pipeline NAME|all] [--late-output LATE.jsonl]',
  options: [
    '--output FILE              one result row per line: the latest revision of each window/key, and alerts',
    '--late-output FILE         also export the late events the workers recorded (concord.late), for reconcile --late',
    '--pipeline NAME|all        only this pipeline of the definitions (default: all of them); rows of',
    '                           pipelines the definitions do not have, or of another version of one',
    '                           (another group ran a changed definition on these topics), are left out and counted,',
    '                           late events of another version too',
    '                           topic prefix: env CONCORD_TOPIC_PREFIX',
    ...kafkaOptions,
    kafkaConfigOption,
  ],
  flags: { output: { type: 'string' }, pipeline: { type: 'string' }, 'late-output': { type: 'string' }, ...kafkaFlags },
  required: ['output'],
  async run(v) {
    applyKafkaFlags(v);
    checkKafkaNames(v);
    const registry = await loadRegistry(v);
    // An unknown --pipeline is a user error (exit 2), not an empty export.
    const selected = registry.select(v.pipeline === undefined ? undefined : String(v.pipeline));
    const wanted = new Set(selected.map((p) => p.name));
    const versions = new Map(selected.map((p) => [p.name, definitionVersion(p)]));
    const settings = kafkaSettings('concord-results');
    await probeBrokers(settings); // a broker that is not there, said in seconds (reads retry for 30 s)
    // Nothing has run under this prefix: a user error (exit 2), as for `archive --from-kafka`.
    await requireTopics(settings, [topicNames().results, ...(v['late-output'] === undefined ? [] : [topicNames().late])], 'run `concord run`');
    const latest = await readLatestByKey(settings, topicNames().results);
    const out = new JsonlWriter(String(v.output));
    let others = 0;
    let otherVersions = 0;
    for (const key of [...latest.keys()].sort()) {
      const row = JSON.parse(latest.get(key)!) as Record<string, unknown>;
      const pipeline = String(row.pipeline);
      if (!wanted.has(pipeline)) {
        if (!registry.pipelines.some((p) => p.name === pipeline)) others++;
        continue;
      }
      if (ofOtherVersion(row, versions.get(pipeline))) {
        otherVersions++;
        continue;
      }
      out.write(row);
    }
    await out.close();
    const leftOut = [
      ...(others ? [`${others} rows of pipelines not in ${registry.origin}`] : []),
      ...(otherVersions ? [`${otherVersions} rows of another definition version of its pipelines (another group's definition, or other --max-out-of-orderness/--allowed-lateness than these)`] : []),
    ];
    process.stderr.write(`exported ${out.count} results to ${String(v.output)}${leftOut.length ? ` (${leftOut.join(', ')} left out)` : ''}\n`);
    if (v['late-output'] !== undefined) {
      // Every record: the topic is not compacted, and two late events may share an id (keys are pipeline|id).
      const late = await readToEnd(settings, topicNames().late);
      const lateOut = new JsonlWriter(String(v['late-output']));
      let lateOfOthers = 0;
      for (const record of late) {
        if (record.problem) continue; // only Concord's workers write this topic
        const row = JSON.parse(record.value) as Record<string, unknown>;
        if (!wanted.has(String(row.pipeline))) continue;
        // Judged by another version of the pipeline: not this definition's late events.
        if (ofOtherVersion(row, versions.get(String(row.pipeline)))) lateOfOthers++;
        else lateOut.write(row);
      }
      await lateOut.close();
      process.stderr.write(`exported ${lateOut.count} late events to ${String(v['late-output'])}${lateOfOthers ? ` (${lateOfOthers} of another definition version of its pipelines left out)` : ''}\n`);
    }
    return 0;
  },
};
