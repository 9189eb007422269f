import { pino, type Logger } from 'pino';
import { LOG_LEVELS, logSetting } from '../serve/logger.ts';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
type Level = 'error' | 'warn' | 'info' | 'debug';

/** The `--log-level` / `--log-format` flags of every long-running process (`run`, `archive --from-kafka`, `sink`, `jobs worker`). */
export const logFlags = { 'log-level': { type: 'string' }, 'log-format': { type: 'string' } } as const;
export const logOptions = [
  '--log-level L              fatal|error|warn|info|debug|trace|silent (default info, env CONCORD_LOG_LEVEL)',
  '--log-format F             text (a line per event on stderr, the default) | json (one JSON object per',
  '                           line on stderr: time, level, service, msg and the numbers; env CONCORD_LOG_FORMAT)',
];

/**
 * A process's log. Services below cli/ take a `log(line)` callback and stay unaware of the format; the
 * progress lines of a command carry their numbers as fields, so a log shipper (Loki, Elastic) can graph
 * them from the JSON format without parsing text.
 */
export interface ProcessLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A `log(line)` callback for a service; `context` (e.g. the schema) is a `[context] ` prefix (text) or a field (json). */
  lineSink(context?: string): (line: string) => void;
  flush(): void;
}

export function processLog(v: Record<string, string | boolean | undefined>, service: string, destination: NodeJS.WritableStream = process.stderr): ProcessLog {
  const given = (flag: string) => (v[flag] === undefined ? undefined : String(v[flag]));
  const level = logSetting(given('log-level'), 'log-level', 'CONCORD_LOG_LEVEL', LOG_LEVELS, 'info');
  const format = logSetting(given('log-format'), 'log-format', 'CONCORD_LOG_FORMAT', LOG_FORMATS, 'text');
  // One of `concord run --workers N`'s processes: every line names which (cli/commands/run-workers.ts).
  const worker = process.env.CONCORD_LOG_WORKER;
  const logger: Logger = pino({ level, base: { service, ...(worker ? { worker } : {}) }, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream);
  const write = (at: Level, msg: string, fields: Record<string, unknown> = {}): void => {
    if (format === 'json') {
      logger[at](fields, msg);
      return;
    }
    if (!logger.isLevelEnabled(at)) return;
    const named = [typeof fields.context === 'string' ? fields.context : undefined, worker].filter((x) => x !== undefined);
    const context = named.length > 0 ? `[${named.join(' ')}] ` : '';
    destination.write(`${at === 'info' ? '' : `${at}: `}${context}${msg}\n`);
  };
  if (destination === process.stderr) {
    // Node prints its own warnings (and a service's process.emitWarning, e.g. a corrupt archive file moved
    // aside) as `(node:PID) Name: ...` plus a --trace-warnings hint: here they are the log's warn lines.
    process.removeAllListeners('warning');
    process.on('warning', (w) => write('warn', w.message, { warning: w.name }));
  }
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    lineSink: (context) => (line) => write('info', line, context === undefined ? {} : { context }),
    flush: () => logger.flush(),
  };
}
