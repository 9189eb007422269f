import { DefinitionsFileError } from '../../pipeline/definitions-file.ts';
import { formatDuration } from '../../pipeline/time.ts';
import { definitionVersion, withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings, type Settings } from '../config.ts';
import { definitionsPath, loadRegistry, timingFlags, timingOptions } from './shared.ts';

/**
 * The version `def` runs under with the settings of flags, env and --config (what stream, run and
 * reconcile stamp on rows), and the file's own beside it when those settings change it.
 */
export function runningVersion(def: PipelineDefinition, settings: Settings): string {
  const own = definitionVersion(def);
  const running = withTiming(def, settings);
  const version = definitionVersion(running);
  if (version === own) return own;
  return `${version} (B ${formatDuration(running.watermark.maxOutOfOrderness)}, L ${formatDuration(running.allowedLateness)} from --max-out-of-orderness / ` +
    `--allowed-lateness, CONCORD_MAX_OUT_OF_ORDERNESS / CONCORD_ALLOWED_LATENESS or --config; the file's own: ${own})`;
}

export const validateCommand: CommandSpec = {
  name: 'validate',
  summary: 'check a definitions file: every problem at once, each naming its place',
  usage: 'concord validate [--definitions FILE] [--max-out-of-orderness D] [--allowed-lateness D]',
  options: [...timingOptions],
  flags: { ...timingFlags },
  async run(v) {
    const path = definitionsPath(v);
    try {
      const registry = await loadRegistry(v);
      // The version the commands would run under: B and L of flags, env or --config change it.
      const settings = loadSettings(v);
      const lines = registry.pipelines.map((p) => `  ${p.name.padEnd(28)} ${p.kind.padEnd(9)} input ${p.schema.name}, version ${runningVersion(p, settings)}`);
      process.stdout.write(`${path}: OK — ${registry.schemas.size} schema${registry.schemas.size === 1 ? '' : 's'}, ${registry.pipelines.length} pipeline${registry.pipelines.length === 1 ? '' : 's'}\n${lines.join('\n')}\n`);
      return 0;
    } catch (error) {
      if (!(error instanceof DefinitionsFileError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
  },
};
