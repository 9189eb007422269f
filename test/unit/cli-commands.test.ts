import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CommandSpec } from '../../cli/args.ts';
import { concord } from '../fixtures/cli.ts';

// cli/main.ts keeps a light table (name, summary, load) so `concord --help` imports no command module;
// its summaries are copies of each module's CommandSpec. This checks the copies against every module.
const commandsDir = new URL('../../cli/commands/', import.meta.url);

async function commandSpecs(): Promise<Map<string, CommandSpec>> {
  const specs = new Map<string, CommandSpec>();
  for (const file of readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).sort()) {
    const mod = (await import(new URL(file, commandsDir).href)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (typeof value === 'object' && value !== null && 'name' in value && 'summary' in value && 'run' in value) {
        const spec = value as CommandSpec;
        expect(specs.has(spec.name), `command ${spec.name} defined twice`).toBe(false);
        specs.set(spec.name, spec);
      }
    }
  }
  return specs;
}

/** The `Commands:` lines of `concord --help`, in order: [name, summary]. */
function helpTable(stdout: string): [string, string][] {
  const lines = stdout.split('\n');
  const start = lines.indexOf('Commands:');
  expect(start).toBeGreaterThan(-1);
  return lines.slice(start + 1).filter((l) => l.trim() !== '').map((l) => {
    const m = /^ {2}(\S+) +(.*)$/.exec(l);
    expect(m, `help line ${JSON.stringify(l)}`).not.toBeNull();
    return [m![1]!, m![2]!];
  });
}

describe('concord command table', () => {
  it('lists every command module with the summary of its CommandSpec, in order', async () => {
    const specs = await commandSpecs();
    const help = concord(['--help']);
    expect(help.code).toBe(0);
    const table = helpTable(help.stdout);
    expect(table.map(([name]) => name)).toEqual([
      'demo', 'validate', 'explain', 'init', 'stream', 'archive', 'replay', 'reconcile', 'backfill', 'revert', 'prune', 'report',
      'produce', 'run', 'sink', 'results', 'serve', 'jobs',
    ]);
    expect(new Set(table.map(([name]) => name))).toEqual(new Set(specs.keys()));
    for (const [name, summary] of table) expect(summary, `summary of ${name}`).toBe(specs.get(name)!.summary);
  }, 120_000);

  it('loads the command a name asks for (its own --help), and refuses unknown ones with exit 2', () => {
    for (const name of ['validate', 'explain', 'init', 'revert']) {
      const r = concord([name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: concord ${name}`);
    }
    const unknown = concord(['nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^unknown command "nope"\n/);
    expect(concord([]).code).toBe(2);
  }, 120_000);

  it('an unknown command names the one likely meant: a slip, or another tool\'s name for it', () => {
    // `concord check` (and Flink's `info` for the plan) listed the commands without a word on which.
    for (const [typed, meant] of [['check', 'validate'], ['valdate', 'validate'], ['info', 'explain'], ['replya', 'replay']]) {
      const r = concord([typed!]);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe(`unknown command "${typed}" (did you mean "${meant}"? \`concord ${meant} --help\`)`);
    }
  }, 120_000);

  it('`concord help CMD` and `concord CMD -h` show that command\'s help on stdout, exit 0; `help` of no command exits 2', () => {
    // `help stream` printed the command list, and `stream -h` was refused as an unknown option.
    const asFlag = concord(['stream', '--help']);
    for (const args of [['help', 'stream'], ['stream', '-h']]) {
      const r = concord(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toBe(asFlag.stdout);
    }
    expect(asFlag.stdout).toMatch(/^ {2}--help, -h +show this help$/m);
    const unknown = concord(['help', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^unknown command "nope"/);
  }, 120_000);
});
