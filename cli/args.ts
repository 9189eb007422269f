import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../pipeline/definitions-problems.ts';
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
  /**
   * False: the command reads no definitions file (`init` writes one), so `--definitions` is neither in its
   * help nor taken (refused as an unknown flag). Default true: every other command takes it.
   */
  readonly readsDefinitions?: boolean;
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
    ...[...cmd.options, ...(cmd.readsDefinitions === false ? [] : DEFINITIONS_HELP)].map((o) => `  ${o}`), '  --help, -h                 show this help', '',
  ].join('\n');
}

export function parseCommandArgs(cmd: CommandSpec, argv: string[]): Record<string, string | boolean | undefined> | 'help' {
  let parsed;
  const first = argv[0];
  if (cmd.leadingWordAs && first !== undefined && !first.startsWith('-')) argv = [`--${cmd.leadingWordAs}`, first, ...argv.slice(1)];
  const common = cmd.readsDefinitions === false ? {} : DEFINITIONS_FLAG;
  try {
    parsed = parseArgs({ args: argv, options: { ...cmd.flags, ...common, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false, tokens: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A slip of a flag (`--stop-when-idel`): named with the flag it is likely meant for, as a slip of a command is.
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
    const meant = unknown === undefined ? undefined : closest(unknown, [...Object.keys(cmd.flags), ...Object.keys(common), 'help']);
    const why = unknown === 'definitions' && cmd.readsDefinitions === false ? ` (concord ${cmd.name} reads no definitions file)` : '';
    throw new ConfigError(`${message}${meant === undefined ? why : ` (did you mean --${meant}?)`}\nRun \`concord ${cmd.name} --help\` for usage.`);
  }
  refuseConflictingRepeats(cmd, parsed.tokens);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return 'help';
  for (const r of cmd.required ?? []) {
    if (values[r] === undefined) throw new ConfigError(`--${r} is required\nUsage: ${cmd.usage}`);
  }
  return values;
}

/**
 * A flag given twice with different values (`--pipeline a ... --pipeline b`) is refused: parseArgs keeps
 * the last one silently, so the run used a value the user may not have meant (a pasted command line
 * with an older flag left in). The same value twice is harmless and allowed.
 */
function refuseConflictingRepeats(cmd: CommandSpec, tokens: ReturnType<typeof parseArgs>['tokens']): void {
  const seen = new Map<string, string | undefined>();
  for (const t of tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name) && seen.get(t.name) !== t.value) {
      throw new ConfigError(
        `--${t.name} is given twice, as ${JSON.stringify(seen.get(t.name))} and ${JSON.stringify(t.value)}: give it once\nRun \`concord ${cmd.name} --help\` for usage.`,
      );
    }
    seen.set(t.name, t.value);
  }
}
