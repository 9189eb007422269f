/**
 * What every part of the Kafka client shares: settings, the record shapes the rest of the code sees,
 * the error type, and retry of safe reads. Nothing here imports the client library's clients.
 */
import { findErrorBy } from '@platformatic/kafka';
import type { LineProblem } from '../../sources/line-limits.ts';
import { ConcordError, type ErrorDomain } from '../../pipeline/errors.ts';
import { parseBrokers } from './brokers.ts';
import { loadKafkaSecurity, PLAINTEXT, securityOptions, type KafkaSecurity } from './security.ts';
import { closedByBroker, securityProblem, settingsRefused } from './security-failure.ts';

export class KafkaClientError extends ConcordError {
  constructor(message: string, cause?: unknown, options: { domain?: ErrorDomain; retriable?: boolean } = {}) {
    super(message, { domain: options.domain ?? 'external', retriable: options.retriable ?? true, cause });
  }
}

const missingTopic = (topic: string, brokers: readonly string[], writer: string) =>
  `topic ${topic} does not exist on ${brokers.join(',')} (${writer} first, or check CONCORD_TOPIC_PREFIX)`;

/**
 * A topic a command is to read does not exist, found before it starts (admin.ts `requireTopics`): the
 * broker answered, so "is the broker up?" misleads. The user's to fix (a prefix not set, nothing
 * produced yet): retrying does not help.
 */
export class KafkaTopicMissingError extends KafkaClientError {
  readonly topic: string;
  /** `writer`: what would have made the topic, e.g. "run `concord run`". */
  constructor(topic: string, brokers: readonly string[], cause?: unknown, writer = 'produce to it') {
    super(missingTopic(topic, brokers, writer), cause, { domain: 'user', retriable: false });
    this.topic = topic;
  }
}

/**
 * The group took this member's partitions away (or never gave them under that generation): the broker
 * refused an offset commit made under the generation the records were read with (KIP-447). The
 * transaction was aborted; the caller drops what it built on those records and restores from the
 * last committed checkpoint when the group assigns it partitions again.
 */
export class GroupFencedError extends KafkaClientError {
  /**
   * The broker still counts this member in the group (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS): a
   * rebalance moved the generation on and the member's consumer rejoins it by itself. False: the member
   * was dropped (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, a fenced producer).
   */
  readonly memberKnown: boolean;
  /** The generation the refused offsets were committed under, when known. */
  readonly generationId: number | undefined;

  constructor(message: string, cause?: unknown, refusal: { memberKnown?: boolean; generationId?: number } = {}) {
    super(message, cause);
    this.memberKnown = refusal.memberKnown ?? false;
    this.generationId = refusal.generationId;
  }
}

/** Refusals of an offset commit by a member the group still holds (see GroupFencedError.memberKnown). */
export const MEMBER_KNOWN = new Set(['ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);

/**
 * The broker fenced this member's transactional producer (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH) and
 * aborted its open transaction: the transaction stayed open past the transaction timeout (the process
 * stalled: a GC pause, SIGSTOP, a slow disk) or another process took the same transactional id. Handled
 * like a refused commit (state dropped, restored from the checkpoints on the next assignment); the
 * producer re-registers its transactional id before its next transaction.
 */
export class ProducerFencedError extends GroupFencedError {}

export interface KafkaSettings {
  /** host:port list; env KAFKA_BROKERS (the commands' --brokers sets it), default 127.0.0.1:9092. */
  brokers: string[];
  clientId: string;
  /** TLS and SASL (stream/kafka/security.ts; env KAFKA_SECURITY_PROTOCOL, ...); none: PLAINTEXT. */
  security?: KafkaSecurity;
}

export function kafkaSettings(clientId = 'concord'): KafkaSettings {
  return { brokers: parseBrokers(process.env.KAFKA_BROKERS ?? '127.0.0.1:9092', 'KAFKA_BROKERS'), clientId, security: loadKafkaSecurity(process.env) };
}


export interface TopicSpec {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

export interface OutRecord {
  topic: string;
  key: string | null;
  /** null: a tombstone (a compacted topic forgets the key). */
  value: string | null;
  partition?: number;
}

export interface InRecord {
  offset: number;
  key: string | null;
  /** The value as text ('' when there is a problem). */
  value: string;
  timestamp: number;
  /** Why the value is no event: a tombstone, no bytes, not UTF-8 (kept in base64), over the line limit. */
  problem?: LineProblem;
}

/** A consumer-group membership as the broker knows it: what an offset commit is checked against. */
export interface GroupGeneration {
  groupId: string;
  memberId: string;
  generationId: number;
  /** The group coordinator's broker id (where offset commits go). */
  coordinatorId: number;
}

export interface InBatch {
  topic: string;
  partition: number;
  records: InRecord[];
  /** The membership these records were fetched under: commit their offsets under it, or not at all. */
  generation: GroupGeneration;
  /** More batches of the same fetched data follow at once: a member may commit them all in one transaction. */
  more?: boolean;
  /**
   * The next offset to read after the fetched data of this batch, transaction markers included (a topic
   * written by a transactional producer ends one offset past its last record). Undefined when the fetch
   * path does not say; see ConsumeOptions.markerBatches.
   */
  next?: number;
}

/** Offsets to commit for a consumer group: per partition, the next offset to read, under the generation that read them. */
export interface ConsumedOffsets {
  generation: GroupGeneration;
  topic: string;
  partitions: { partition: number; offset: number }[];
}

/** The client library's connection options for `s`. */
export function baseOptions(s: KafkaSettings, clientId = s.clientId): { clientId: string; bootstrapBrokers: string[]; retries: number; retryDelay: number } & ReturnType<typeof securityOptions> {
  return { clientId, bootstrapBrokers: s.brokers, retries: 8, retryDelay: 100, ...securityOptions(s.security) };
}

const FENCED = ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'REBALANCE_IN_PROGRESS'];

const PRODUCER_FENCED = ['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH'];

/** The broker's error id somewhere in `error`'s chain, if it fenced the transactional producer itself. */
export function producerFencedBy(error: unknown): string | undefined {
  // Through our wrappers' causes (a commit failure arrives wrapped) down to the library's error.
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    for (const id of PRODUCER_FENCED) if (findErrorBy(e, 'apiId', id)) return id;
  }
  return undefined;
}

/** The broker's error id (ILLEGAL_GENERATION, ...) somewhere in `error`'s chain, if it is a group-membership refusal. */
export function fencedBy(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  for (const id of FENCED) if (findErrorBy(error, 'apiId', id)) return id;
  return undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const parts = [error.message];
  const inner = (error as { errors?: unknown[] }).errors;
  if (Array.isArray(inner) && inner.length > 0) parts.push(`[${[...new Set(inner.map((e) => (e instanceof Error ? e.message : String(e))))].join('; ')}]`);
  else if (error.cause instanceof Error) parts.push(`[${error.cause.message}]`);
  return parts.join(' ');
}

/** Why a connection failed (the innermost cause: `connect ECONNREFUSED ...`), when `error` is one; else undefined. */
export function unreachableReason(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const network = findErrorBy(error, 'code', 'PLT_KFK_NETWORK') ?? findErrorBy(error, 'code', 'PLT_KFK_TIMEOUT');
  if (!network) return undefined;
  let root: Error = network;
  while (root.cause instanceof Error) root = root.cause;
  return root.message;
}

/** The topic of the client's "Unknown topic X." (or the broker's UNKNOWN_TOPIC_OR_PARTITION), if that is the failure. */
function unknownTopic(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const m = /^Unknown topic (.+?)\.?$/.exec(e.message);
    if (m) return m[1];
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) {
      const topic = unknownTopic(inner);
      if (topic) return topic;
    }
  }
  return undefined;
}

/**
 * The broker's refusal of this client's credentials (a password, a certificate) as the user's error
 * (exit 2, what to set), if that is why `error` happened; else undefined. At the first contact or after
 * a reconnect under a running process alike: a password rotated on the broker is refused on every retry.
 */
export function securityFailure(s: KafkaSettings, error: unknown): KafkaClientError | undefined {
  const insecure = securityProblem(error, s.brokers, s.security ?? PLAINTEXT);
  return insecure === undefined ? undefined : new KafkaClientError(insecure, error, { domain: 'user', retriable: false });
}

/**
 * `securityFailure` for a process already running: only an outright refusal of its settings
 * (security-failure.ts `settingsRefused`), never a handshake cut short, which a broker restarting
 * causes too (a worker must ride a rolling restart out, not exit 2).
 */
export function settingsRefusedFailure(s: KafkaSettings, error: unknown): KafkaClientError | undefined {
  return settingsRefused(error) ? securityFailure(s, error) : undefined;
}

/**
 * The failure of `what` as one sentence that says what to do: a broker that cannot be reached (with
 * why, once: the client's retries each repeated the same cause), a topic that does not exist, or what
 * the broker said.
 */
export function kafkaFailure(what: string, s: KafkaSettings, error: unknown): KafkaClientError {
  if (error instanceof KafkaClientError) return error;
  // Before "cannot reach": the library wraps a refused password or an untrusted certificate in a network error.
  const insecure = securityFailure(s, error);
  if (insecure !== undefined) return insecure;
  const unreachable = unreachableReason(error);
  if (unreachable !== undefined) {
    return new KafkaClientError(`cannot reach the Kafka broker at ${s.brokers.join(',')} (${unreachable}): is it running there? \`npm run infra:up\` starts one on this machine; or name the right address with --brokers or env KAFKA_BROKERS`, error);
  }
  // Said as it is, but still the dependency's and retriable: under a running worker it may be a broker
  // that has just restarted (a process restarted after exit 1, not given up after exit 2).
  const topic = unknownTopic(error);
  if (topic !== undefined) return new KafkaClientError(missingTopic(topic, s.brokers, 'produce to it'), error);
  return new KafkaClientError(`${what} failed against ${s.brokers.join(',')}: ${describe(error)}`, error);
}

/**
 * kafkaFailure of a command's first contact (admin.ts `probeBrokers`): there, a connection the broker
 * took and closed is the settings' mismatch with its listener (SASL or a client certificate wanted), not
 * an outage; later, under a running worker, it may be a broker restarting, and stays retriable.
 */
export function firstContactFailure(s: KafkaSettings, error: unknown): KafkaClientError {
  const failure = kafkaFailure('connecting', s, error);
  const reason = failure.domain === 'external' ? unreachableReason(error) : undefined;
  const closed = reason === undefined ? undefined : closedByBroker(reason, s.brokers, s.security ?? PLAINTEXT);
  return closed === undefined ? failure : new KafkaClientError(closed, error, { domain: 'user', retriable: false });
}

export async function wrap<T>(what: string, s: KafkaSettings, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw kafkaFailure(what, s, error);
  }
}

/**
 * `wrap` for reads that are safe to repeat: retries errors the broker marks retriable for up to 30 s.
 * Right after topics are created (by this or another process) a busy broker answered "not the leader
 * for that topic-partition" to ListOffsets for a while.
 */
export async function wrapRead<T>(what: string, s: KafkaSettings, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      return await fn();
    } catch (error) {
      const retriable = error instanceof Error && (findErrorBy(error, 'canRetry', true) !== null || findErrorBy(error, 'hasStaleMetadata', true) !== null);
      if (!retriable || Date.now() - started > 30_000) return wrap(what, s, () => Promise.reject(error));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
