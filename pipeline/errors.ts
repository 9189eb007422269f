/**
 * One base error for the whole project. `domain` says whose problem it is:
 * - `user`: bad input, config or arguments (fix the input; retrying will not help)
 * - `external`: a dependency (broker, database, disk) failed (retrying may help)
 * - `internal`: a bug in Concord
 */
export type ErrorDomain = 'user' | 'external' | 'internal';

export class ConcordError extends Error {
  readonly domain: ErrorDomain;
  readonly retriable: boolean;

  constructor(message: string, options: { domain?: ErrorDomain; retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.domain = options.domain ?? 'internal';
    this.retriable = options.retriable ?? false;
  }
}

/** What the operating system answers when a file cannot be read or written: the disk or its permissions, not the code. */
export const OS_FILE_FAILURE = /No space left on device|Disk quota exceeded|Read-only file system|Permission denied|Operation not permitted|Input\/output error/;

/** An event does not match its schema. `field` names the offending field. */
export class SchemaViolationError extends ConcordError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`, { domain: 'user' });
    this.field = field;
  }
}

/** A configuration value (CLI flag, config file key, environment variable) is invalid. */
export class ConfigError extends ConcordError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { domain: 'user', ...options });
  }
}

/** A pipeline definition is inconsistent (unknown field, bad window size, ...). */
export class DefinitionError extends ConcordError {
  constructor(message: string) {
    super(message, { domain: 'user' });
  }
}

/** Reading or writing the archive failed. */
export class ArchiveError extends ConcordError {
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { domain: 'external', ...options });
  }
}

/**
 * The reader of an output went away (`--output /dev/stdout | head -1`, a named pipe whose reader ended):
 * nobody is left to read more, so the command ends as a Unix tool does on SIGPIPE, quietly (cli/failure.ts).
 */
export class OutputClosedError extends ConcordError {
  constructor(path: string, options: { cause?: unknown } = {}) {
    super(`${path}: its reader closed it`, { domain: 'external', ...options });
  }
}

/** A command was asked to stop (SIGINT, SIGTERM) before it was done; the command says what it left. */
export class StoppedError extends ConcordError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(`stopped by ${signal}`, { domain: 'external' });
    this.signal = signal;
  }
}
