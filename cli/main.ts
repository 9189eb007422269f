#!/usr/bin/env node
import { helpText, parseCommandArgs, type CommandSpec } from './args.ts';
import { useCallerDirectory } from './caller-directory.ts';
import { endQuietlyOnClosedPipe } from './closed-pipe.ts';
import { reportFailure } from './failure.ts';
import { whenWrapperExits } from './launcher-watch.ts';
import { checkPathFlags, withStandardStreams } from './paths.ts';
import { closest } from '../pipeline/definitions-problems.ts';
import { stopWhereUnhandled } from './stop-signals.ts';

/**
 * The command table, light: a name, the summary (the same string as the module's CommandSpec; a unit
 * test checks it) and how to load the module. `concord --help` imports no command module (so none of
 * DuckDB, the Kafka client, bullmq, pg...), `concord <cmd> ...` only that command's.
 */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CommandSpec>;
}

const commands: readonly CommandEntry[] = [
  { name: 'demo', summary: 'generate a day, stream it into the store, archive, replay, reconcile and correct the day (no Kafka/Redis)', load: async () => (await import('./commands/demo.ts')).demoCommand },
  { name: 'validate', summary: 'check a definitions file: every problem at once, each naming its place', load: async () => (await import('./commands/validate.ts')).validateCommand },
  { name: 'explain', summary: 'show how a pipeline runs: the stream plan and the exact DuckDB SQL of its replay', load: async () => (await import('./commands/explain.ts')).explainCommand },
  { name: 'init', summary: 'write a commented starter definitions file (the seed pipelines) to edit', load: async () => (await import('./commands/init.ts')).initCommand },
  { name: 'stream', summary: 'run a pipeline over a JSONL file in file order with event-time semantics', load: async () => (await import('./commands/stream.ts')).streamCommand },
  { name: 'archive', summary: 'write events (late ones included) to Parquet partitioned by event time', load: async () => (await import('./commands/archive.ts')).archiveCommand },
  { name: 'replay', summary: 'compute a pipeline over the complete Parquet archive with DuckDB (no watermark)', load: async () => (await import('./commands/replay.ts')).replayCommand },
  { name: 'reconcile', summary: 'diff realtime results against a replay of the archive and attribute every difference', load: async () => (await import('./commands/reconcile.ts')).reconcileCommand },
  { name: 'backfill', summary: 'recompute the dirty cells of a day, or whole days after a definition changed, from the archive', load: async () => (await import('./commands/backfill.ts')).backfillCommand },
  { name: 'revert', summary: 'make the version of a day that was live before the last switch live again (atomic)', load: async () => (await import('./commands/backfill.ts')).revertCommand },
  { name: 'prune', summary: 'delete what the store\'s retention no longer keeps: old sealed days, superseded versions, the stream\'s verdicts on events of those days (--dry-run says what)', load: async () => (await import('./commands/prune.ts')).pruneCommand },
  { name: 'report', summary: 'the next-day report of a date, read from the single-source-of-truth store only', load: async () => (await import('./commands/report.ts')).reportCommand },
  { name: 'produce', summary: 'publish events into Kafka: a JSONL file of any schema (--input), or the seeded load generator', load: async () => (await import('./commands/produce.ts')).produceCommand },
  { name: 'run', summary: 'streaming worker over Kafka: consumer group, per-partition watermarks, exactly-once results', load: async () => (await import('./commands/run.ts')).runCommand },
  { name: 'sink', summary: 'write the workers\' results and late events from Kafka into the result store (idempotent)', load: async () => (await import('./commands/sink.ts')).sinkCommand },
  { name: 'results', summary: 'export the latest realtime results from Kafka (concord.results) to JSONL, e.g. for reconcile', load: async () => (await import('./commands/results.ts')).resultsCommand },
  { name: 'serve', summary: 'serve the read-only API, the live dashboard and /metrics over the result store (loopback by default)', load: async () => (await import('./commands/serve.ts')).serveCommand },
  { name: 'jobs', summary: 'BullMQ jobs: nightly replay + reconcile, backfill of dirty cells, workers, status', load: async () => (await import('./commands/jobs.ts')).jobsCommand },
];

/** Other tools' names for a command (Flink's `info` prints the plan), said with the name Concord has. */
const OTHER_NAMES: Readonly<Record<string, string>> = { check: 'validate', lint: 'validate', verify: 'validate', info: 'explain', plan: 'explain', describe: 'explain', start: 'run' };

function commandHint(name: string): string {
  const meant = Object.hasOwn(OTHER_NAMES, name) ? OTHER_NAMES[name] : closest(name, commands.map((c) => c.name));
  return meant === undefined ? '' : ` (did you mean "${meant}"? \`concord ${meant} --help\`)`;
}

function mainHelp(): string {
  return [
    'concord — one pipeline definition, a streaming and a replay runtime that agree, and reconciliation',
    '',
    'Usage: npm run concord -- <command> [options]      (`concord <command> --help` or `concord help <command>` for each)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(11)}${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...after] = argv;
  // `concord help stream` is `concord stream --help` (the way git and npm take it); `concord help` alone the list.
  const [name, rest] = first === 'help' && after[0] !== undefined ? [after[0], ['--help']] : [first, after];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`unknown command "${name}"${commandHint(name)}\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const cmd = await entry.load();
    const parsed = parseCommandArgs(cmd, rest);
    if (parsed === 'help') {
      process.stdout.write(helpText(cmd));
      return 0;
    }
    const values = withStandardStreams(parsed, cmd.paths);
    // Before any work: a directory named as --output was found only after the whole input was processed.
    checkPathFlags(values, cmd.paths);
    stopWhereUnhandled(name);
    // npm's shell does not pass a SIGTERM on: its exit counts as one, for every command (cli/launcher-watch.ts).
    const unwatch = whenWrapperExits((w) => {
      process.stderr.write(`concord ${name}: its launcher ${w.command.split(' ').slice(0, 3).join(' ')} (pid ${w.pid}) exited: stopping as on SIGTERM\n`);
      process.kill(process.pid, 'SIGTERM');
    });
    try {
      return await cmd.run(values);
    } finally {
      unwatch();
    }
  } catch (error) {
    return reportFailure(name, error);
  }
}

endQuietlyOnClosedPipe();
useCallerDirectory();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Done: a handle a client library left open (seen after a Kafka consumer was replaced mid-run) must not
// keep a finished command alive. Unref'd, so a process with nothing left exits at once as before.
setTimeout(() => process.exit(code), 5_000).unref();
