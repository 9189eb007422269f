import type { CommandSpec } from '../args.ts';

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'write a commented starter definitions file (the seed pipelines) to edit',
  usage: 'concord init [--output concord.definitions.ts] [--format ts|json] [--force]',
  options: [
    '--output FILE              where to write (default concord.definitions.ts, or .json with --format json)',
    '--format ts|json           a TypeScript module with comments (default), or plain JSON',
    '--force                    overwrite an existing file',
  ],
  flags: { output: { type: 'string' }, format: { type: 'string' }, force: { type: 'boolean' } },
  async run() {
    throw new Error('not implemented yet');
  },
};
