import { existsSync, readdirSync } from 'node:fs';
import { schemaDir, schemaFolderGivenForRoot } from '../../batch/archive-layout.ts';
import { replay } from '../../batch/replay.ts';
import { countRepeatedIds } from '../../batch/repeated-ids.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { shellWord } from '../../pipeline/names.ts';
import { resultToJson } from '../../schemas/results.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';
import { loadRegistry, onePipeline } from './shared.ts';

export const replayCommand: CommandSpec = {
  name: 'replay',
  summary: 'compute a pipeline over the complete Parquet archive with DuckDB (no watermark)',
  usage: 'concord replay --pipeline NAME --input ARCHIVE_DIR --output OUT.jsonl [--dedupe]',
  options: [
    '--pipeline NAME            a pipeline of the definitions (`concord validate` lists them)',
    '--input DIR                archive root written by `concord archive`',
    '--output FILE              result rows (revision 0; approx_distinct and approx_percentile outputs add <output>_exact)',
    '--dedupe                   count each event id once (its first delivery), as reconcile, backfill and report\'s',
    '                           next-day numbers do; by default every delivery counts, as the stream counts them',
  ],
  flags: { pipeline: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' }, dedupe: { type: 'boolean' } },
  // Its --input is the archive's root, not a JSON-lines file as every other command's.
  // It must exist: replay only reads it (a missing one said "(Error: ENOENT ...)", after loading the definitions).
  paths: { input: { kind: 'dir', ifFile: 'replay reads an archive directory (written by `concord archive --dir`)', missing: 'name the directory `concord archive --dir` wrote, or archive the events first' } },
  required: ['pipeline', 'input', 'output'],
  async run(v) {
    const registry = await loadRegistry(v);
    const def = onePipeline(registry, v.pipeline, 'run it once per pipeline');
    // An archive without the schema's folder is another archive or another schema (a wrong --input or
    // --definitions), not a day without events: "replayed 0 results" with exit 0 hid the mistake.
    const archive = String(v.input);
    if (existsSync(archive) && !existsSync(schemaDir(archive, def.schema))) {
      const slip = await schemaFolderGivenForRoot(archive);
      if (slip !== undefined) throw new ConfigError(`--input ${slip}`);
      const held = readdirSync(archive, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      throw new ConfigError(
        `--input ${archive} holds no events of schema "${def.schema.name}" (the input of ${def.name}; no folder ${schemaDir(archive, def.schema)})` +
          `${held.length > 0 ? `; it holds the folders ${held.join(', ')}` : ''}: archive them first with \`concord archive --schema ${shellWord(def.schema.name)} --dir ${shellWord(archive)}\`, or check --input and --definitions`,
      );
    }
    const started = Date.now();
    const dedupe = v.dedupe === true;
    const results = await replay(def, archive, { dedupe });
    const out = new JsonlWriter(String(v.output));
    for (const r of results) out.write(resultToJson(r));
    await out.close();
    process.stderr.write(`${def.name}: replayed ${results.length} results in ${Date.now() - started} ms\n`);
    // Without a word, a re-sent event made replay's numbers differ from the "replay" column reconcile
    // and report show for the same archive (909 readings here, 900 there).
    const repeated = await countRepeatedIds(archive, def.schema);
    if (repeated.ids > 0) {
      process.stderr.write(dedupe
        ? `  ${repeated.ids} event ids are archived more than once: each counted once (its first delivery), as reconcile and report count them\n`
        : `  ${repeated.ids} event ids are archived more than once (${repeated.extraDeliveries} repeated deliveries), each delivery counted as the stream counts them; ` +
          `reconcile and report count each id once: --dedupe replays so\n`);
    }
    return 0;
  },
};
