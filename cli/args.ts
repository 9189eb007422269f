import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../pipeline/errors.ts';
import type { PathUse } from './paths.ts';

/** A command's parsed flags, by name. */
export type FlagValues = Record<string, string | boolean | undefined>;

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Lines of option help. */
  readonly options: readonly string[];
  readonly flags: NonNullable<ParseArgsConfig['options']>;
  readonly required?: readonly string[];
  /** Path flags this command means otherwise than the common ones (cli/paths.ts), checked before it runs. */
  readonly paths?: Readonly<Record<string, PathUse>>;
  /** A leading bare word is this flag's value (`concord jobs status` = `concord jobs --do status`). */
  readonly leadingWordAs?: string;
  run(values: FlagValues): Promise<number>;
}

/** Every command takes the definitions file: one registry value for the whole run. */
const DEFINITIONS_FLAG = { definitions: { type: 'string' } } as const;
const DEFINITIONS_HELP = [
  '--definitions FILE         schemas and pipelines (JSON, or a .ts/.js module exporting them by default);',
  '                           env CONCORD_DEFINITIONS; default: the seed pipelines (examples/seed.definitions.json)',
];

export function helpText(cmd: CommandSpec): string {
  return [
    `concord ${cmd.name} — ${cmd.summary}`, '', `Usage: ${cmd.usage}`, '', 'Options:',
    ...[...cmd.options, ...DEFINITIONS_HELP].map((o) => `  ${o}`), '  --help                     show this help', '',
  ].join('\n');
}

export function parseCommandArgs(cmd: CommandSpec, argv: string[]): Record<string, string | boolean | undefined> | 'help' {
  let parsed;
  const first = argv[0];
  if (cmd.leadingWordAs && first !== undefined && !first.startsWith('-')) argv = [`--${cmd.leadingWordAs}`, first, ...argv.slice(1)];
  try {
    parsed = parseArgs({ args: argv, options: { ...cmd.flags, ...DEFINITIONS_FLAG, help: { type: 'boolean' } }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new ConfigError(`${error instanceof Error ? error.message : String(error)}\nRun \`concord ${cmd.name} --help\` for usage.`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return 'help';
  for (const r of cmd.required ?? []) {
    if (values[r] === undefined) throw new ConfigError(`--${r} is required\nUsage: ${cmd.usage}`);
  }
  return values;
}
