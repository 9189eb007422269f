/**
 * Bounds on a PostgreSQL that goes silent (a network that drops packets, a partition, a frozen host):
 * nothing fails, nothing answers, and without a bound a write or a read waits forever. Which bound fits
 * which use is in docs/decisions.md ("A silent PostgreSQL").
 */
import type net from 'node:net';
import pg from 'pg';
import { envNumber } from '../pipeline/env-number.ts';

export interface PgTimeouts {
  /** A new connection (TCP, login, first answer): CONCORD_PG_CONNECT_TIMEOUT_MS. */
  connectMs: number;
  /** TCP keepalive, both ends: idle before the first probe; probes every half of it, 3 of them. CONCORD_PG_KEEPALIVE_MS. */
  keepAliveMs: number;
  /** A writer's statement without an answer this long has its connection checked: CONCORD_PG_SILENCE_MS. */
  silenceMs: number;
  /** A reader's (`concord serve`) statement: the server cancels it, the client drops it 1 s later. CONCORD_PG_READ_TIMEOUT_MS. */
  readMs: number;
}

export function pgTimeouts(env: NodeJS.ProcessEnv = process.env): PgTimeouts {
  const ms = (name: string, fallback: number) => envNumber(name, fallback, { integer: true, min: 1, unit: 'milliseconds' }, env);
  return {
    connectMs: ms('CONCORD_PG_CONNECT_TIMEOUT_MS', 5_000),
    keepAliveMs: ms('CONCORD_PG_KEEPALIVE_MS', 10_000),
    silenceMs: ms('CONCORD_PG_SILENCE_MS', 15_000),
    readMs: ms('CONCORD_PG_READ_TIMEOUT_MS', 15_000),
  };
}

/**
 * The session settings of PostgreSQL's own keepalive (whole seconds): a backend whose client vanished
 * behind a partition is ended in ~keepAlive x 2.5 instead of the OS's ~2 h, and with it its transaction
 * and the writers' advisory lock it held (the retry would otherwise wait on its own orphan).
 */
export function serverKeepAlive(t: PgTimeouts): string {
  const idle = Math.max(1, Math.round(t.keepAliveMs / 1000));
  return `-c tcp_keepalives_idle=${idle} -c tcp_keepalives_interval=${Math.max(1, Math.round(idle / 2))} -c tcp_keepalives_count=3`;
}

/** The client's TCP keepalive on a new connection (pool 'connect'): the kernel notices a dead peer on an idle or waiting socket. */
export function clientKeepAlive(client: pg.PoolClient, t: PgTimeouts): void {
  socketOf(client)?.setKeepAlive(true, t.keepAliveMs, Math.max(1_000, Math.round(t.keepAliveMs / 2)), 3);
}

const socketOf = (client: pg.ClientBase): net.Socket | undefined => (client as unknown as { connection?: { stream?: net.Socket } }).connection?.stream;

/** What a dropped silent connection's statement fails with; connectionLost (pg-driver.ts) knows its code. */
export class SilentPostgresError extends Error {
  readonly code = 'CONCORD_PG_SILENT';
}

/** Drops the client's connection: its statement under way fails at once (`Connection terminated`), it is not reused. */
function drop(client: pg.ClientBase): void {
  socketOf(client)?.destroy();
}

/**
 * A statement with a bound on its duration (a reader's: an API answer is worth nothing after it): no
 * answer within `ms` drops the connection, and the statement fails with SilentPostgresError.
 */
export async function withinBound<T>(client: pg.ClientBase, ms: number, statement: () => Promise<T>): Promise<T> {
  let silent = false;
  const timer = setTimeout(() => { silent = true; drop(client); }, ms);
  try {
    return await statement();
  } catch (error) {
    if (silent) throw new SilentPostgresError(`PostgreSQL did not answer within ${ms} ms; its connection was dropped`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** What PostgreSQL says about one of its backends, asked over a connection of its own. */
export type BackendState = 'running' | 'not running' | 'gone' | 'no answer';

/**
 * A writer's statement with a bound on silence, not on duration (a reconcile's publish or a large COPY
 * may rightly run for minutes): every `silenceMs` without an answer, a new connection asks PostgreSQL
 * whether the statement's backend is still running it. Running (or waiting on a lock): it waits on. Not
 * running (the request or its answer was lost on the way), gone, or no answer to the question within the
 * connect timeout: the connection is dropped (an orphaned backend is ended, so its transaction and
 * locks go) and the statement fails with SilentPostgresError, which the store reports as "does not answer".
 */
export async function withinSilence<T>(client: pg.ClientBase, url: string, t: PgTimeouts, statement: () => Promise<T>): Promise<T> {
  const pid = (client as unknown as { processID?: number | null }).processID ?? undefined;
  let verdict: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;
  let settled = false;
  const began = Date.now();
  const check = async () => {
    const probe = new BackendProbe(url, t);
    try {
      const state = pid === undefined ? 'no answer' : await probe.stateOf(pid);
      if (settled) return; // answered meanwhile: nothing is dropped or ended
      if (state === 'running') { timer = setTimeout(() => { checking = check(); }, t.silenceMs); return; }
      verdict = state === 'no answer'
        ? `PostgreSQL did not answer for ${seconds(Date.now() - began)} s, nor a new connection within ${t.connectMs} ms (a silent network or host?)`
        : `PostgreSQL's backend ${pid} is ${state === 'gone' ? 'gone' : 'no longer running the statement'} after ${seconds(Date.now() - began)} s without an answer (the answer was lost on the way?)`;
      drop(client);
      // Dropped first, then ended: a backend is never ended under a client that still takes its answer.
      if (state === 'not running') await probe.terminate(pid!);
    } finally {
      probe.close();
    }
  };
  timer = setTimeout(() => { checking = check(); }, t.silenceMs);
  try {
    return await statement();
  } catch (error) {
    if (verdict !== undefined) {
      await checking; // the silent backend ended before the failure is said (and a retry starts)
      throw new SilentPostgresError(`${verdict}; its connection was dropped`, { cause: error });
    }
    throw error;
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}

/**
 * Asks over a new connection (bounded by the connect timeout, each question by it too) what a backend
 * does, and ends one that is not running a statement while its client waits for an answer: an open
 * transaction of it would hold the writers' advisory lock until the server's keepalive.
 */
class BackendProbe {
  private readonly c: pg.Client;
  private connected: Promise<unknown> | undefined;

  constructor(url: string, private readonly t: PgTimeouts) {
    this.c = new pg.Client({ connectionString: url, connectionTimeoutMillis: t.connectMs, application_name: 'concord-liveness', statement_timeout: t.connectMs });
    this.c.on('error', () => undefined);
  }

  private ask<R>(sql: string, params: unknown[]): Promise<R[]> {
    return withinBound(this.c, this.t.connectMs * 2, async () => {
      this.connected ??= this.c.connect();
      await this.connected;
      return (await this.c.query(sql, params)).rows as R[];
    });
  }

  async stateOf(pid: number): Promise<BackendState> {
    try {
      // A state changed under a second ago may be the answer in flight: asked again next time.
      const [row] = await this.ask<{ state: string | null; fresh: boolean }>(`SELECT state, now() - state_change < interval '1 second' AS fresh FROM pg_stat_activity WHERE pid = $1`, [pid]);
      if (!row) return 'gone';
      return row.state === 'active' || row.fresh ? 'running' : 'not running';
    } catch {
      return 'no answer';
    }
  }

  async terminate(pid: number): Promise<void> {
    await this.ask('SELECT pg_terminate_backend($1)', [pid]).catch(() => undefined);
  }

  close(): void {
    void this.c.end().catch(() => undefined);
  }
}
