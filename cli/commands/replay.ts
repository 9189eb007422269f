import { replay } from '../../batch/replay.ts';
import { pipelineByName } from '../../pipeline/builtins.ts';
import { resultToJson } from '../../schemas/results.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';

export const replayCommand: CommandSpec = {
  name: 'replay',
  summary: 'compute a pipeline over the complete Parquet archive with DuckDB (no watermark)',
  usage: 'concord replay --pipeline NAME --input ARCHIVE_DIR --output OUT.jsonl',
  options: [
    '--pipeline NAME            page_views_per_minute | unique_visitors_5m | fraud_multi_country',
    '--input DIR                archive root written by `concord archive`',
    '--output FILE              result rows (revision 0; unique_visitors_5m adds visitors_exact)',
  ],
  flags: { pipeline: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' } },
  required: ['pipeline', 'input', 'output'],
  async run(v) {
    const def = pipelineByName(String(v.pipeline));
    const started = Date.now();
    const results = await replay(def, String(v.input));
    const out = new JsonlWriter(String(v.output));
    for (const r of results) out.write(resultToJson(r));
    await out.close();
    process.stderr.write(`${def.name}: replayed ${results.length} results in ${Date.now() - started} ms\n`);
    return 0;
  },
};
