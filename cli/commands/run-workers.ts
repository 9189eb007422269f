import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ConfigError } from '../../pipeline/errors.ts';
import { startDirectory } from '../caller-directory.ts';
import { onStopSignal } from '../stop-signals.ts';
import { lateWindowSkipsLine } from '../late-window-skips.ts';

/** `--workers N`: a positive integer (1 = this process is the worker). */
export function workerCount(value: string | boolean | undefined): number {
  const text = String(value ?? process.env.CONCORD_WORKERS ?? '1');
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new ConfigError(`--workers "${text}": give a whole number of worker processes from 1 to 64`);
  return n;
}

/**
 * `concord run --workers N`: N worker processes of one consumer group on this machine, as Flink's
 * parallelism or Kafka Streams' `num.stream.threads` (a Node process computes on one core). Each is
 * `concord run` with the same flags, worker id `<id>-<i>` (its own transactional id) and, with a fixed
 * `--metrics-port P`, port P + i. The group spreads the partitions over them; they fence and restore as
 * separate workers do. SIGINT/SIGTERM go to all; the exit code is the worst of theirs (one a signal ended:
 * 128 + its number, as a shell says).
 */
export async function runWorkerProcesses(
  n: number, values: Record<string, string | boolean | undefined>, workerId: string, log: (line: string, fields?: Record<string, unknown>) => void,
): Promise<number> {
  // Each worker process's skipped late windows per input, summed under the end line (as one process says them).
  const skips = new Map<string, number>();
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
      cwd: startDirectory(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, CONCORD_WORKERS: '1', CONCORD_LOG_WORKER: id },
    });
    child.on('message', (m: unknown) => {
      if (!isWorkerTotals(m)) return;
      skips.set(m.schema, (skips.get(m.schema) ?? 0) + m.lateWindowSkips);
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
  for (const [schema, n] of skips) {
    const line = lateWindowSkipsLine(n);
    if (line !== null) log(line, { context: schema, final: true, lateWindowSkips: n });
  }
  return Math.max(...exits.map(exitCodeOf));
}

/** What a worker process of `run --workers N` tells its parent at its end, per input (sendWorkerTotals). */
export interface WorkerTotals {
  type: 'concord-run-totals';
  schema: string;
  lateWindowSkips: number;
}

function isWorkerTotals(m: unknown): m is WorkerTotals {
  return typeof m === 'object' && m !== null && (m as WorkerTotals).type === 'concord-run-totals' && typeof (m as WorkerTotals).schema === 'string'
    && Number.isInteger((m as WorkerTotals).lateWindowSkips);
}

/** A worker process of `run --workers N` (it has the IPC channel): its totals of one input to the parent. */
export function sendWorkerTotals(totals: Omit<WorkerTotals, 'type'>): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined || process.env.CONCORD_LOG_WORKER === undefined) return Promise.resolve();
  // Waited for: the process ends soon after, and a message still queued would be lost.
  return new Promise((resolve) => send({ type: 'concord-run-totals', ...totals }, undefined, {}, () => resolve()));
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
