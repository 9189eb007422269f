import { ConcordError } from '../pipeline/errors.ts';
import { helpText, parseCommandArgs, type CommandSpec } from './args.ts';
import { archiveCommand } from './commands/archive.ts';
import { demoCommand } from './commands/demo.ts';
import { produceCommand } from './commands/produce.ts';
import { resultsCommand } from './commands/results.ts';
import { runCommand } from './commands/run.ts';
import { reconcileCommand } from './commands/reconcile.ts';
import { replayCommand } from './commands/replay.ts';
import { streamCommand } from './commands/stream.ts';
import { backfillCommand, revertCommand } from './commands/backfill.ts';
import { reportCommand } from './commands/report.ts';
import { jobsCommand } from './commands/jobs.ts';
import { sinkCommand } from './commands/sink.ts';

const commands: readonly CommandSpec[] = [
  demoCommand, streamCommand, archiveCommand, replayCommand, reconcileCommand, backfillCommand, revertCommand, reportCommand,
  produceCommand, runCommand, sinkCommand, resultsCommand, jobsCommand,
];

function mainHelp(): string {
  return [
    'concord — one pipeline definition, a streaming and a replay runtime that agree, and reconciliation',
    '',
    'Usage: npm run concord -- <command> [options]      (`concord <command> --help` for each)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(11)}${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`unknown command "${name}"\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const values = parseCommandArgs(cmd, rest);
    if (values === 'help') {
      process.stdout.write(helpText(cmd));
      return 0;
    }
    return await cmd.run(values);
  } catch (error) {
    if (error instanceof ConcordError && error.domain === 'user') {
      process.stderr.write(`concord ${name}: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`concord ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (error instanceof Error && error.cause) process.stderr.write(`caused by: ${String(error.cause)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
