/** Real CLI processes for the fault matrix: started, killed, paused and restarted by role, with their logs kept. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../settings.ts';

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

/** One `concord ...` process; its stderr and stdout are appended to `<logDir>/<name>.log`. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly startedAt = Date.now();
  private done: Exit | null = null;

  constructor(readonly name: string, args: string[], env: Record<string, string>, log: WriteStream) {
    log.write(`\n--- ${new Date().toISOString()} concord ${args.join(' ')}\n`);
    this.child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
      cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log, { end: false });
    this.child.stderr!.pipe(log, { end: false });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => {
      this.done = { code, signal };
      log.write(`--- ${new Date().toISOString()} exit ${signal ?? code}\n`);
      resolve(this.done);
    }));
  }

  get running(): boolean { return this.done === null; }
  get exit(): Exit | null { return this.done; }
  signal(sig: NodeJS.Signals): void { if (this.running) this.child.kill(sig); }
}

/** Runs a command to its end; resolves with its exit and everything it printed. */
export function runToEnd(name: string, args: string[], env: Record<string, string>, logs: Logs): Promise<Exit & { output: string }> {
  const p = new CliProcess(name, args, env, logs.of(name));
  let output = '';
  p.child.stdout!.on('data', (d) => { output += String(d); });
  p.child.stderr!.on('data', (d) => { output += String(d); });
  return p.exited.then((e) => ({ ...e, output }));
}

export class Logs {
  private readonly streams = new Map<string, WriteStream>();
  constructor(readonly dir: string) {}
  of(name: string): WriteStream {
    const file = this.fileOf(name);
    let s = this.streams.get(file);
    if (!s) this.streams.set(file, s = createWriteStream(file, { flags: 'a' }));
    return s;
  }

  private fileOf(name: string): string {
    return join(this.dir, `${name.replace(/[^a-z0-9-]/gi, '_')}.log`);
  }

  close(): void { for (const s of this.streams.values()) s.end(); }

  /** The last `lines` lines a role's log holds on disk now (what a failure message quotes). */
  tail(name: string, lines: number): string {
    try {
      return readFileSync(this.fileOf(name), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch (error) {
      return `(no log: ${error instanceof Error ? error.message : String(error)})`;
    }
  }
}

/**
 * A long-running role (worker a, archiver, sink): keeps one process alive until it exits 0 once `upstreamDone`
 * says there is nothing left to wait for. An exit we did not cause (e.g. the broker went away) is restarted and
 * counted, so "recovered" means: the role finished its work after every fault.
 */
export class Role {
  current: CliProcess | null = null;
  finished = false;
  unplannedExits = 0;
  incarnations = 0;
  /** Set when the process exited 2 (a usage error): restarting it cannot help. */
  fatal: string | null = null;
  private planned = new WeakSet<CliProcess>();

  constructor(readonly name: string, private readonly args: string[], private readonly env: Record<string, string>,
    private readonly logs: Logs, private readonly upstreamDone: () => boolean) {}

  start(): CliProcess {
    const p = new CliProcess(this.name, this.args, this.env, this.logs.of(this.name));
    this.current = p;
    this.incarnations++;
    void p.exited.then((e) => this.onExit(p, e));
    return p;
  }

  /** Marks the next exit of the current process as ours (a SIGKILL we send), then sends the signal. */
  kill(sig: NodeJS.Signals = 'SIGKILL'): CliProcess | null {
    const p = this.current;
    if (!p || !p.running) return null;
    this.planned.add(p);
    p.signal(sig);
    return p;
  }

  private onExit(p: CliProcess, e: Exit): void {
    if (this.current !== p) return;
    if (e.code === 2) {
      this.fatal = `see ${this.logs.dir}/${this.name}.log`;
      return;
    }
    if (e.code === 0 && this.upstreamDone()) {
      this.finished = true;
      return;
    }
    if (!this.planned.has(p) && e.code !== 0) this.unplannedExits++;
    // Restarted after a short pause: a killed member's successor, or one that stopped early (idle before upstream finished).
    setTimeout(() => { if (this.current === p && !this.stopped) this.start(); }, 500);
  }

  stopped = false;
  stop(sig: NodeJS.Signals = 'SIGKILL'): void { this.stopped = true; this.kill(sig); }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** mulberry32: the fault schedule is a function of --seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
