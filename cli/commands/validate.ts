import { DefinitionsFileError } from '../../pipeline/definitions-file.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { CommandSpec } from '../args.ts';
import { definitionsPath, loadRegistry } from './shared.ts';

export const validateCommand: CommandSpec = {
  name: 'validate',
  summary: 'check a definitions file: every problem at once, each naming its place',
  usage: 'concord validate [--definitions FILE]',
  options: [],
  flags: {},
  async run(v) {
    const path = definitionsPath(v);
    try {
      const registry = await loadRegistry(v);
      const lines = registry.pipelines.map((p) => `  ${p.name.padEnd(28)} ${p.kind.padEnd(9)} input ${p.schema.name}, version ${definitionVersion(p)}`);
      process.stdout.write(`${path}: OK — ${registry.schemas.size} schema${registry.schemas.size === 1 ? '' : 's'}, ${registry.pipelines.length} pipeline${registry.pipelines.length === 1 ? '' : 's'}\n${lines.join('\n')}\n`);
      return 0;
    } catch (error) {
      if (!(error instanceof DefinitionsFileError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
  },
};
