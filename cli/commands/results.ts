import { kafkaSettings, readLatestByKey } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';

export const resultsCommand: CommandSpec = {
  name: 'results',
  summary: 'export the latest realtime results from Kafka (concord.results) to JSONL, e.g. for reconcile',
  usage: 'concord results --output OUT.jsonl [--pipeline NAME] [--late-output LATE.jsonl]',
  options: [
    '--late-output FILE         also export the late events the workers recorded (concord.late), for reconcile --late',
    '--output FILE              one result row per line: the latest revision of each window/key, and alerts',
    '--pipeline NAME            only this pipeline (default: all)',
    '                           topic prefix: env CONCORD_TOPIC_PREFIX; brokers: env KAFKA_BROKERS',
  ],
  flags: { output: { type: 'string' }, pipeline: { type: 'string' }, 'late-output': { type: 'string' } },
  required: ['output'],
  async run(v) {
    const latest = await readLatestByKey(kafkaSettings('concord-results'), topicNames().results);
    const out = new JsonlWriter(String(v.output));
    let n = 0;
    for (const key of [...latest.keys()].sort()) {
      if (v.pipeline !== undefined && !key.startsWith(`${String(v.pipeline)}|`)) continue;
      out.write(JSON.parse(latest.get(key)!));
      n++;
    }
    await out.close();
    process.stderr.write(`exported ${n} results to ${String(v.output)}\n`);
    if (v['late-output'] !== undefined) {
      const late = await readLatestByKey(kafkaSettings('concord-results'), topicNames().late);
      const lateOut = new JsonlWriter(String(v['late-output']));
      for (const value of late.values()) {
        const row = JSON.parse(value) as Record<string, unknown>;
        if (v.pipeline === undefined || row.pipeline === v.pipeline) lateOut.write(row);
      }
      await lateOut.close();
      process.stderr.write(`exported ${lateOut.count} late events to ${String(v['late-output'])}\n`);
    }
    return 0;
  },
};
