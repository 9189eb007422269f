import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../cli/args.ts';
import { serveCommand } from '../../cli/commands/serve.ts';

// `concord serve --poll D` reads a duration as every other D flag does (`--max-out-of-orderness`,
// `--stop-when-idle`, `--timeout`: an integer with ms|s|m|h, bare = milliseconds). It took a bare
// number as seconds (`--poll 5` was 5 s, `--poll 500` refused) and refused minutes (`--poll 1m`).
// The store named here does not exist: a --poll that is accepted gets as far as that error.
const missing = 'duckdb:/nonexistent-concord-dir/store.duckdb';
async function serveWith(poll: string): Promise<string> {
  const v = parseCommandArgs(serveCommand, ['--store', missing, '--poll', poll, '--port', '0', '--log-level', 'silent']);
  if (v === 'help') throw new Error('help');
  try {
    await serveCommand.run(v);
    return 'ran';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('concord serve --poll', () => {
  it('reads a bare number as milliseconds and takes the units of every duration flag', async () => {
    expect(await serveWith('500')).toMatch(/no store at/);
    expect(await serveWith('250ms')).toMatch(/no store at/);
    expect(await serveWith('2s')).toMatch(/no store at/);
    expect(await serveWith('1m')).toMatch(/no store at/);
  });

  it('refuses what is out of range or not a duration, naming the flag', async () => {
    expect(await serveWith('5')).toMatch(/--poll 5: use 100ms\.\.60s/);
    expect(await serveWith('2m')).toMatch(/--poll 2m: use 100ms\.\.60s/);
    expect(await serveWith('fast')).toMatch(/--poll.*"fast" is not a duration/);
  });
});
