import type { CommandSpec } from '../args.ts';
import { definitionsFlags, definitionsOptions } from './shared.ts';

export const explainCommand: CommandSpec = {
  name: 'explain',
  summary: 'show how a pipeline runs: the stream plan and the exact DuckDB SQL of its replay',
  usage: 'concord explain --pipeline NAME [--definitions FILE] [--archive DIR]',
  options: ['--pipeline NAME            a pipeline of the definitions', '--archive DIR              archive root the SQL reads (default archive/)', ...definitionsOptions],
  flags: { pipeline: { type: 'string' }, archive: { type: 'string' }, ...definitionsFlags },
  required: ['pipeline'],
  async run() {
    throw new Error('not implemented yet');
  },
};
