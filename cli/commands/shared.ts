import { seedDefinitionsPath } from '../../examples/seed-path.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { loadDefinitionsFile } from '../../pipeline/load-definitions.ts';
import type { Registry } from '../../pipeline/registry.ts';
import type { CommandSpec } from '../args.ts';
import { checkPath, COMMON_PATH_FLAGS } from '../paths.ts';
import { parseBrokers } from '../../stream/kafka/brokers.ts';
import { checkKafkaId, checkTopicPrefix } from '../../stream/kafka/kafka-names.ts';
import { loadKafkaSecurity } from '../../stream/kafka/security.ts';
import { defaultPartitions } from '../../stream/kafka/topics.ts';

/** The definitions file a command runs: --definitions, else CONCORD_DEFINITIONS, else the seed example. */
export function definitionsPath(v: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof v.definitions === 'string') return v.definitions;
  return env.CONCORD_DEFINITIONS || seedDefinitionsPath;
}

/** Loads the registry once per command: every problem of a bad file is a user error (exit 2). */
export async function loadRegistry(v: Record<string, unknown>): Promise<Registry> {
  const path = definitionsPath(v);
  // The flag is checked with the others (cli/paths.ts); the environment's file the same way, by its name.
  if (typeof v.definitions !== 'string' && path !== seedDefinitionsPath) checkPath('CONCORD_DEFINITIONS', path, COMMON_PATH_FLAGS.definitions!);
  return loadDefinitionsFile(path);
}

export const timingFlags: CommandSpec['flags'] = {
  'max-out-of-orderness': { type: 'string' },
  'allowed-lateness': { type: 'string' },
  config: { type: 'string' },
};

export const timingOptions = [
  '--max-out-of-orderness D   watermark bound B (default 30s); durations: integer with ms|s|m|h|d, bare = ms',
  '--allowed-lateness D       allowed lateness L (default 5m)',
  '--config FILE              JSON settings {maxOutOfOrderness, allowedLateness}; env CONCORD_CONFIG,',
  '                           CONCORD_MAX_OUT_OF_ORDERNESS, CONCORD_ALLOWED_LATENESS (flags win)',
];

export const storeFlags: CommandSpec['flags'] = { store: { type: 'string' } };

export const kafkaFlags: CommandSpec['flags'] = { brokers: { type: 'string' }, config: { type: 'string' } };

export const kafkaOptions = [
  '--brokers LIST             Kafka bootstrap servers host:port[,host:port] (env KAFKA_BROKERS, default 127.0.0.1:9092)',
  '                           TLS and SASL: env KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),',
  '                           KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), KAFKA_SASL_USERNAME,',
  '                           KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_CA_LOCATION, ..., or the config file\'s "kafka"',
  '                           object of the same properties (docs/operations.md, "Connecting to a secured Kafka")',
];

/** `--config` of a Kafka command that has no timing settings: only its "kafka" object is read. */
export const kafkaConfigOption = '--config FILE              JSON settings, e.g. {"kafka": {"security.protocol": "SASL_SSL", ...}}; env CONCORD_CONFIG';

/**
 * --brokers over KAFKA_BROKERS, and --config over CONCORD_CONFIG: put into this process's environment,
 * which kafkaSettings reads and the worker processes `run --workers` starts inherit. The Kafka security
 * settings are read and checked here, before anything else is done: a missing CA file or a SASL
 * protocol without a password is said at once, not after topics were made.
 */
export function applyKafkaFlags(v: Record<string, unknown>): void {
  if (typeof v.brokers === 'string') process.env.KAFKA_BROKERS = parseBrokers(v.brokers, '--brokers').join(',');
  if (typeof v.config === 'string') {
    checkPath('--config', v.config, COMMON_PATH_FLAGS.config!);
    process.env.CONCORD_CONFIG = v.config;
  }
  loadKafkaSecurity(process.env);
}

/**
 * The names a Kafka command hands the broker, checked before it connects (stream/kafka/kafka-names.ts):
 * the topic prefix, and `--group` / `--worker-id` where the command takes them; and the partitions of
 * topics it makes.
 */
export function checkKafkaNames(v: Record<string, unknown>): void {
  checkTopicPrefix(process.env.CONCORD_TOPIC_PREFIX ?? '');
  defaultPartitions(); // env CONCORD_PARTITIONS, used when a topic is made
  for (const flag of ['group', 'worker-id']) {
    if (typeof v[flag] === 'string') checkKafkaId(v[flag], `--${flag}`);
  }
}

/** A flag's whole number of at least 1 (`--partitions`, `--flush-records`). */
export function positiveIntegerFlag(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} must be a positive integer, got ${text}`);
  return n;
}

/**
 * A generator flag's number (`--clicks`, `--seed`), said with the flag and the text as typed: `Number()`
 * alone made `--clicks 1e3x` NaN, refused by the generator as "clicks ... got NaN" once the run had begun.
 */
export function numberFlag(text: string, flag: string, kind: 'whole' | 'any' = 'whole'): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${flag} must be ${kind === 'whole' ? 'a whole number, 0 or more' : 'a number'}, got ${text}`);
  if (kind === 'whole' && (!Number.isSafeInteger(n) || n < 0)) throw new ConfigError(`${flag} must be a whole number, 0 or more, got ${text}`);
  return n;
}

export const storeOptions = [
  '--store URL                result store: duckdb:<file> (default duckdb:.concord/store.duckdb, one process)',
  '                           or postgres://user@host:port/db (several processes); env CONCORD_STORE',
  '                           PostgreSQL tables in schema concord, or env CONCORD_STORE_SCHEMA, or ?schema=S in the URL',
];

/** The store named by --store, else CONCORD_STORE, else the embedded default. */
export function storeUrl(v: Record<string, unknown>): string | undefined {
  return typeof v.store === 'string' ? v.store : undefined;
}

/** `--pipeline NAME|all` (default all) of the registry, with the timing settings applied. */
export function pipelinesFor(registry: Registry, name: unknown, timing: { maxOutOfOrderness?: number; allowedLateness?: number }): PipelineDefinition[] {
  return registry.select(name === undefined ? undefined : String(name)).map((p) => withTiming(p, timing));
}

/**
 * `--pipeline NAME` of a command that writes one pipeline's results to one file (stream, replay,
 * reconcile with files): `all` is said to be the others' word, not looked up as a pipeline's name.
 */
export function onePipeline(registry: Registry, name: unknown, also: string): PipelineDefinition {
  if (name === 'all' && !registry.pipelines.some((p) => p.name === 'all')) {
    throw new ConfigError(`--pipeline all: this command writes one pipeline's results to one file; name one of ${registry.pipelines.map((p) => p.name).join(', ')} (${also})`);
  }
  return registry.pipeline(String(name));
}

/**
 * With several pipelines over one input, their late counts: each pipeline judges an event on its own,
 * so an event late for two counts twice in the total (`produce` counts events, once). Empty for one.
 */
export function latePerPipeline(perPipeline: Readonly<Record<string, number>>, pipelines: readonly string[]): string {
  if (pipelines.length < 2) return '';
  return `; late per pipeline: ${pipelines.map((p) => `${p} ${perPipeline[p] ?? 0}`).join(', ')}`;
}
