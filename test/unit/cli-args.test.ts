import { describe, expect, it } from 'vitest';
import { helpText, parseCommandArgs, type CommandSpec } from '../../cli/args.ts';
import { initCommand } from '../../cli/commands/init.ts';
import { ConfigError } from '../../pipeline/errors.ts';

const cmd: CommandSpec = {
  name: 'stream', summary: 's', usage: 'concord stream --pipeline NAME', options: [],
  flags: { pipeline: { type: 'string' }, final: { type: 'boolean' }, do: { type: 'string' } },
  leadingWordAs: 'do',
  run: async () => 0,
};

describe('command-line flags', () => {
  it('refuses a flag given twice with different values, naming both (parseArgs silently kept the last)', () => {
    for (const argv of [['--pipeline', 'a', '--pipeline', 'b'], ['--pipeline=a', '--pipeline', 'b'], ['status', '--do', 'worker']]) {
      expect(() => parseCommandArgs(cmd, argv)).toThrow(ConfigError);
      expect(() => parseCommandArgs(cmd, argv)).toThrow(/is given twice, as ".+" and ".+": give it once/);
    }
  });

  it('takes the same value twice, and a boolean twice', () => {
    expect(parseCommandArgs(cmd, ['--pipeline', 'a', '--pipeline=a', '--final', '--final'])).toMatchObject({ pipeline: 'a', final: true });
  });

  it('names the flag an unknown one is likely a slip of (it said "Unknown option" only)', () => {
    expect(() => parseCommandArgs(cmd, ['--pipelin', 'a'])).toThrow("Unknown option '--pipelin' (did you mean --pipeline?)\nRun `concord stream --help` for usage.");
    expect(() => parseCommandArgs(cmd, ['--defintions', 'a.json'])).toThrow(/\(did you mean --definitions\?\)/);
    expect(() => parseCommandArgs(cmd, ['--colour'])).toThrow(/^Unknown option '--colour'\nRun/);
  });

  it('init, which writes the definitions file, neither lists nor takes --definitions (its help listed it, and it was never read)', () => {
    expect(helpText(initCommand)).not.toMatch(/^ {2}--definitions FILE/m);
    expect(helpText(cmd)).toMatch(/^ {2}--definitions FILE/m); // every other command keeps it
    // Refused as any unknown flag of init is: exit 2 (ConfigError), the same words, and why.
    expect(() => parseCommandArgs(initCommand, ['--definitions', 'd.json'])).toThrow(ConfigError);
    expect(() => parseCommandArgs(initCommand, ['--definitions', 'd.json'])).toThrow("Unknown option '--definitions' (concord init reads no definitions file)\nRun `concord init --help` for usage.");
    expect(() => parseCommandArgs(initCommand, ['--bogus'])).toThrow("Unknown option '--bogus'\nRun `concord init --help` for usage.");
    expect(parseCommandArgs(initCommand, ['--output', 'd.json', '--force'])).toMatchObject({ output: 'd.json', force: true });
  });
});
