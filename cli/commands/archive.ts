import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { schemaByName } from '../../schemas/index.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import type { CommandSpec } from '../args.ts';
import { Progress } from '../progress.ts';

export const archiveCommand: CommandSpec = {
  name: 'archive',
  summary: 'write events (late ones included) to Parquet partitioned by event time',
  usage: 'concord archive --schema clicks|transactions --input EVENTS.jsonl --dir ARCHIVE_DIR',
  options: [
    '--schema NAME              clicks | transactions',
    '--input FILE               events, one JSON object per line',
    '--dir DIR                  archive root: <dir>/<schema>/dt=YYYY-MM-DD/hour=HH/*.parquet (UTC);',
    '                           rejected lines go to <dir>/<schema>/_rejected/. Reruns replace, never duplicate.',
  ],
  flags: { schema: { type: 'string' }, input: { type: 'string' }, dir: { type: 'string' } },
  required: ['schema', 'input', 'dir'],
  async run(v) {
    const schema = schemaByName(String(v.schema));
    const progress = new Progress(`archive ${schema.name}`);
    const stats = await new ParquetArchive(String(v.dir), schema).write(readJsonlFile(String(v.input)), {
      onProgress: (n) => progress.update(n, 'events'),
    });
    progress.done(stats.events, 'events');
    process.stderr.write(`archived ${stats.events} ${schema.name} events into ${stats.files.length} Parquet files, ${stats.deadLetters} rejected\n`);
    return 0;
  },
};
