import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ConfigError } from '../../pipeline/errors.ts';
import { startDirectory } from '../caller-directory.ts';
import { onStopSignal } from '../stop-signals.ts';
import { lateWindowSkipsLine } from '../late-window-skips.ts';
import { reasonsText } from '../rejection-summary.ts';
import { latePerPipeline } from './shared.ts';
import type { KafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { groupsCountsSince, readGroupsCounts, type CountedGroup } from '../../stream/group-counts.ts';
import { topReasons } from '../../stream/rejection-reasons.ts';
import type { PartitionCounts } from '../../stream/step-counts.ts';

/** `--workers N`: a positive integer (1 = this process is the worker). */
export function workerCount(value: string | boolean | undefined): number {
  const text = String(value ?? process.env.CONCORD_WORKERS ?? '1');
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new ConfigError(`--workers "${text}": give a whole number of worker processes from 1 to 64`);
  return n;
}

/** What `run --workers N` sums at its end: its groups' checkpoints (stream/group-counts.ts). */
export interface WorkersCounted {
  settings: KafkaSettings;
  groups: readonly CountedGroup[];
  /** Where it says that it could not read them. */
  warn: (line: string, fields?: Record<string, unknown>) => void;
}

/**
 * `concord run --workers N`: N worker processes of one consumer group on this machine, as Flink's
 * parallelism or Kafka Streams' `num.stream.threads` (a Node process computes on one core). Each is
 * `concord run` with the same flags, worker id `<id>-<i>` (its own transactional id) and, with a fixed
 * `--metrics-port P`, port P + i. The group spreads the partitions over them; they fence and restore as
 * separate workers do. SIGINT/SIGTERM go to all; the exit code is the worst of theirs (one a signal ended:
 * 128 + its number, as a shell says). At its end it says, per input, what the group counted during the
 * run, from the partitions' checkpoints read before and after (stream/step-counts.ts, PartitionCounts): a
 * SIGKILLed process takes nothing of it along (the sum of the processes' own lines was short of the topic).
 */
export async function runWorkerProcesses(
  n: number, values: Record<string, string | boolean | undefined>, workerId: string, log: (line: string, fields?: Record<string, unknown>) => void,
  counted?: WorkersCounted,
): Promise<number> {
  const checkpoints = topicNames().checkpoints;
  const read = (when: string) => (counted === undefined ? Promise.resolve(undefined) : readGroupsCounts(counted.settings, checkpoints, counted.groups).catch((error: unknown) => {
    counted.warn(`could not read ${checkpoints} ${when} to count the run (${error instanceof Error ? error.message : String(error)}): no line of the whole run at its end; ` +
      'each worker\'s own line counts its share', { topic: checkpoints });
    return undefined;
  }));
  const before = await read('at the start');
  // A fixed metrics port (flag or env) is one per process: P, P + 1, ...; 0 (any free port) and none as given.
  const portText = values['metrics-port'] ?? process.env.CONCORD_METRICS_PORT;
  const port = (i: number) => (portText === undefined ? undefined : Number(portText) > 0 ? String(Number(portText) + i) : String(portText));
  const children = Array.from({ length: n }, (_, i) => {
    const id = `${workerId}-${i}`;
    const args = ['run'];
    const flags: Record<string, string | boolean | undefined> = { ...values, workers: undefined, 'worker-id': id, 'metrics-port': port(i) };
    for (const [flag, value] of Object.entries(flags)) {
      if (value === undefined || value === false) continue;
      args.push(`--${flag}`, ...(value === true ? [] : [String(value)]));
    }
    // Started where this process started: `npm run concord` from another directory has this one in the
    // caller's, where `--import tsx` of execArgv does not resolve (every worker failed ERR_MODULE_NOT_FOUND).
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
      cwd: startDirectory(), stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CONCORD_WORKERS: '1', CONCORD_LOG_WORKER: id },
    });
    const exited = new Promise<WorkerExit>((resolve) => {
      child.on('error', (error) => {
        log(`worker ${id} did not start: ${error.message}`);
        resolve({ id, code: 1, signal: null });
      });
      child.on('exit', (code, signal) => resolve({ id, code, signal }));
    });
    return { child, exited };
  });
  onStopSignal((signal) => children.forEach(({ child }) => child.kill(signal)));
  const exits = await Promise.all(children.map((c) => c.exited));
  log(workersEnded(exits));
  const after = before === undefined ? undefined : await read('at the end');
  if (counted !== undefined && before !== undefined && after !== undefined) {
    groupsCountsSince(after, before).forEach((c, i) => {
      const g = counted.groups[i]!;
      log(`${g.schema} (the ${n} workers, from the group's checkpoints): ${wholeRunText(c, g.pipelines)}`, {
        context: g.schema, final: true, workers: n, group: g.group, events: c.events, late: c.late, lateAccepted: c.lateAccepted, latePerPipeline: c.latePerPipeline,
        lateWindowSkips: c.lateWindowSkips, rejected: c.deadLetters, misKeyed: c.misKeyed, rejectedByReason: Object.fromEntries(topReasons(c.rejectionReasons, 3)),
      });
      const line = lateWindowSkipsLine(c.lateWindowSkips);
      if (line !== null) log(line, { context: g.schema, final: true, lateWindowSkips: c.lateWindowSkips });
    });
  }
  return Math.max(...exits.map(exitCodeOf));
}

/** The whole run's counts of one input, worded as a worker's summary line (without its results and transactions: see PartitionCounts). */
export function wholeRunText(c: PartitionCounts, pipelines: readonly string[]): string {
  return `${c.events} events, ${c.late} late${c.lateAccepted > 0 ? ` (beyond the allowed lateness; ${c.lateAccepted} more within it, evaluated on arrival)` : ''}, ` +
    `${c.deadLetters} rejected${c.deadLetters > 0 ? ` (${reasonsText(c.rejectionReasons, c.deadLetters)})` : ''}` +
    `${c.misKeyed > 0 ? `, ${c.misKeyed} not keyed by the partition key` : ''}${latePerPipeline(c.latePerPipeline, pipelines)}`;
}

/** How one worker process ended: its exit code, or the signal that ended it. */
export interface WorkerExit {
  id: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process ended by a signal exits 128 + its number, as a shell reports it (SIGKILL: 137). */
export function exitCodeOf(e: WorkerExit): number {
  if (e.code !== null) return e.code;
  return e.signal === null ? 0 : 128 + (constants.signals[e.signal] ?? 0);
}

/**
 * The line `run --workers N` ends with: the exit codes, then each worker that failed and how ("exit codes
 * 0, 1" said neither which worker failed nor that a signal killed it).
 */
export function workersEnded(exits: readonly WorkerExit[]): string {
  const failed = exits.filter((e) => exitCodeOf(e) !== 0)
    .map((e) => `${e.id} ${e.code === null && e.signal !== null ? `killed by ${e.signal}` : `exited ${e.code}`}`);
  return `${exits.length} workers ended: exit codes ${exits.map(exitCodeOf).join(', ')}${failed.length > 0 ? ` (${failed.join(', ')})` : ''}`;
}
