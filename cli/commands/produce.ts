import { PRODUCE_DEFAULTS, producedDay, type GeneratedSchema } from '../../generate/produced-day.ts';
import { DEFAULT_ALLOWED_LATENESS } from '../../pipeline/definition.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { formatDuration, parseDuration } from '../../pipeline/time.ts';
import { timeGuardSettings } from '../../pipeline/time-guard.ts';
import { pathOf, pathText } from '../../schemas/field-paths.ts';
import { aliasesOf, type EventSchema } from '../../schemas/schema.ts';
import { readJsonlFile } from '../../sources/jsonl-file.ts';
import type { LineBatch } from '../../sources/source.ts';
import { BatchProducer, ensureTopics, kafkaSettings, type OutRecord } from '../../stream/kafka/client.ts';
import { probeBrokers } from '../../stream/kafka/admin.ts';
import { concordTopics, defaultPartitions, inputTopic, NULL_RECORD_KEY, partitionKeyField, recordKey } from '../../stream/kafka/topics.ts';
import type { CommandSpec } from '../args.ts';
import { Progress } from '../progress.ts';
import { JSON_LINES_ADVICE, MIN_JUDGED } from '../rejection-summary.ts';
import { applyKafkaFlags, checkKafkaNames, kafkaFlags, kafkaConfigOption, kafkaOptions, loadRegistry, numberFlag, positiveIntegerFlag } from './shared.ts';

/** The schemas the seeded generator writes (the seed definitions' two). */
const GENERATED: readonly GeneratedSchema[] = ['clicks', 'transactions'];
const GENERATOR_FLAGS = ['count', 'duration', 'disorder', 'late-fraction', 'fraud-rings', 'invalid-fraction', 'seed', 'date'];
const SEND_BATCH = 2_000;

/**
 * Records per send: as many as the broker takes at once, or at `rate` 50 ms worth (at least one), so a
 * paced run sends an even stream (2,000 at once then a wait made `--rate 25/s` a burst and 80 s of silence).
 */
export function sendBatchSize(rate: number | undefined): number {
  return rate === undefined ? SEND_BATCH : Math.max(1, Math.min(SEND_BATCH, Math.floor(rate / 20)));
}

function parseRate(text: string): number {
  const m = /^(\d+)(?:\/s)?$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new ConfigError(`--rate: "${text}" is not a rate; use e.g. 5000/s`);
  return Number(m[1]);
}

const DAY_MS = 86_400_000;

/**
 * The generated day as the workers' time guard will judge it: the reference is the record timestamp,
 * the time of sending. A day wholly more than max_future_skew ahead (or past_horizon behind) was sent
 * and reported as sent, and every event of it quarantined by the workers (future_timestamp /
 * past_horizon), a run of 0 events and all rejected: refused. A day partly ahead (today) is said.
 */
export function checkDayAgainstTimeGuard(schema: EventSchema, date: string, now: number): void {
  const { maxFutureSkewMs: ahead, pastHorizonMs: behind } = timeGuardSettings(schema);
  const start = Date.parse(`${date}T00:00:00.000Z`);
  const off = (k: string) => `set "${k}": "off" on schema ${schema.name} in the definitions`;
  if (start > now + ahead) {
    throw new ConfigError(`--date ${date} lies more than max_future_skew (${formatDuration(ahead)}) ahead of now: the workers would quarantine ` +
      `every event (reason future_timestamp); give a past date (default: yesterday), or ${off('max_future_skew')}`);
  }
  if (start + DAY_MS < now - behind) {
    throw new ConfigError(`--date ${date} lies more than past_horizon (${formatDuration(behind)}) behind now: the workers would quarantine ` +
      `every event (reason past_horizon); give a later date, or ${off('past_horizon')}`);
  }
  if (start + DAY_MS > now + ahead) {
    process.stderr.write(`warn: --date ${date}: events after ${new Date(now + ahead).toISOString()} lie more than max_future_skew (${formatDuration(ahead)}) ` +
      'ahead of now; the workers will quarantine them (reason future_timestamp)\n');
  }
}

function parseFraction(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(`${flag}: "${text}" must be a fraction between 0 and 1`);
  return n;
}

export interface Sent {
  lines: number;
  /** Lines keyed null: not a JSON object, or a key value of the wrong type (the workers dead-letter them). */
  unkeyed: number;
  /**
   * Lines without a value of the key field where the schema requires it (`is required`: the workers
   * dead-letter them): a path or alias of the key misspelt leaves most lines so, all in one partition.
   */
  keyless: number;
  blank: number;
  /** Lines that are no JSON (keyed null among `unkeyed`), and the first one's offset and parse error. */
  notJson: number;
  firstNotJson: string | null;
  /** Lines that never became text (not UTF-8, over the line limit): not sent, and where the first was. */
  unsent: number;
  firstUnsent: string | null;
  seconds: number;
}

/**
 * Sends lines as they are to the schema's topic, keyed by the schema's key field, at `rate` per second
 * if given. A malformed line is still sent (keyed null): the workers dead-letter it with the reason,
 * as the file-based stream does. Blank lines are skipped, as every reader skips them.
 */
/** Lines to send; `problems` (by index): lines that never became text (sources/line-limits.ts). */
export type SendBatch = Pick<LineBatch, 'lines' | 'problems'> & { firstOffset?: number };

async function sendLines(schema: EventSchema, batches: AsyncIterable<SendBatch>, rate: number | undefined, progress: Progress): Promise<Sent> {
  const s = kafkaSettings('concord-produce');
  const producer = await BatchProducer.connect(s);
  const topic = inputTopic(schema.name);
  const sent: Sent = { lines: 0, unkeyed: 0, keyless: 0, blank: 0, notJson: 0, firstNotJson: null, unsent: 0, firstUnsent: null, seconds: 0 };
  const started = Date.now();
  const batch = sendBatchSize(rate);
  try {
    for await (const b of batches) {
      for (let i = 0; i < b.lines.length; i += batch) {
        const records = inputRecords(schema, topic, b, i, Math.min(i + batch, b.lines.length), sent);
        if (records.length > 0) await producer.send(records);
        sent.lines += records.length;
        progress.update(sent.lines);
        if (rate !== undefined) {
          // Pace to the requested rate: wait until the time this many events are due.
          const due = started + (sent.lines / rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
      }
    }
  } finally {
    await producer.close();
  }
  sent.seconds = (Date.now() - started) / 1000;
  progress.done(sent.lines);
  return sent;
}

/**
 * Lines `from`..`to` of a batch as the records to send, counting into `sent` the lines keyed null, blank
 * or never text (not UTF-8, over the line limit: they had become '' and were counted as blank lines).
 */
export function inputRecords(schema: EventSchema, topic: string, b: SendBatch, from: number, to: number, sent: Sent): OutRecord[] {
  const records: OutRecord[] = [];
  for (let j = from; j < to; j++) {
    const value = b.lines[j]!;
    const problem = b.problems?.get(j);
    if (problem) {
      if (sent.unsent++ === 0) sent.firstUnsent = `offset ${(b.firstOffset ?? 0) + j}: ${problem.reason}`;
      continue;
    }
    if (value.trim().length === 0) {
      sent.blank++;
      continue;
    }
    let key: string | null = null;
    try {
      // A byte-order mark opens a file saved by a Windows editor; the workers read the event without it.
      key = recordKey(schema, JSON.parse(value.charCodeAt(0) === 0xfeff ? value.slice(1) : value));
    } catch (error) {
      key = null; // not JSON: sent anyway, for the dead-letter output
      if (sent.notJson++ === 0) sent.firstNotJson = `offset ${(b.firstOffset ?? 0) + j}: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (key === null) sent.unkeyed++;
    else if (key === NULL_RECORD_KEY && schema.fields[partitionKeyField(schema)]?.required) sent.keyless++;
    records.push({ topic, key, value });
  }
  return records;
}

/**
 * A loud line when most of the file is no JSON (a CSV, one JSON array, pretty-printed JSON): every such
 * line is sent and dead-lettered by the workers, and the summary's "keyed null" said it in passing.
 */
export function notJsonWarning(sent: Sent, input: string): string | null {
  if (sent.lines < MIN_JUDGED || sent.notJson * 2 <= sent.lines) return null;
  return `!! ${sent.notJson} of ${sent.lines} lines (${Math.round((100 * sent.notJson) / sent.lines)}%) of ${input} are not JSON (the first at ${sent.firstNotJson}): ` +
    `the workers will dead-letter each of them. The input must be JSON lines, ${JSON_LINES_ADVICE}`;
}

async function* linesOf(path: string): AsyncGenerator<SendBatch> {
  yield* readJsonlFile(path);
}

export const produceCommand: CommandSpec = {
  name: 'produce',
  summary: 'publish events into Kafka: a JSONL file of any schema (--input), or the seeded load generator',
  usage: 'concord produce --schema NAME --input EVENTS.jsonl [--rate N/s] | --schema clicks|transactions (--count N | --duration 10m) [generator options]',
  options: [
    '--schema NAME              a schema of the definitions: its topic <prefix><NAME>, keyed by the schema\'s key',
    '--input FILE               send this file\'s events, one JSON object per line, as they are and in file order;',
    '                           a malformed line is sent too (keyed null) and dead-lettered by the workers',
    '--rate N/s                 events per second (default: as fast as the broker takes them)',
    '--partitions N             partitions when topics are created (default 6, env CONCORD_PARTITIONS)',
    ...kafkaOptions,
    kafkaConfigOption,
    'Without --input, the seeded generator (seed schemas clicks and transactions only):',
    '--count N                  events to send',
    '--duration D               or: send for D at --rate (count = rate x duration)',
    '--disorder D               out-of-order delay bound for 2% of events (default 20s)',
    '--late-fraction F          fraction delivered long after the newest event, "offline mobile clients" (default 0.005)',
    '--fraud-rings K            transactions: groups of cards used from many countries (default 5)',
    '--invalid-fraction F       fraction of malformed lines, to exercise the dead-letter output (default 0)',
    '--seed N                   generator seed (default 42); --date YYYY-MM-DD event day (default yesterday UTC)',
  ],
  flags: {
    schema: { type: 'string' }, input: { type: 'string' }, count: { type: 'string' }, duration: { type: 'string' }, rate: { type: 'string' },
    disorder: { type: 'string' }, 'late-fraction': { type: 'string' }, 'fraud-rings': { type: 'string' },
    seed: { type: 'string' }, date: { type: 'string' }, partitions: { type: 'string' }, 'invalid-fraction': { type: 'string' }, ...kafkaFlags,
  },
  required: ['schema'],
  async run(v) {
    applyKafkaFlags(v);
    checkKafkaNames(v);
    const registry = await loadRegistry(v);
    const schema = registry.schema(String(v.schema));
    const rate = v.rate === undefined ? undefined : parseRate(String(v.rate));
    const partitions = v.partitions === undefined ? defaultPartitions() : positiveIntegerFlag(String(v.partitions), '--partitions');
    const topic = inputTopic(schema.name);
    const keyedBy = `keyed by ${partitionKeyField(schema)}`;

    if (v.input !== undefined) {
      const generatorOnly = GENERATOR_FLAGS.filter((f) => v[f] !== undefined);
      if (generatorOnly.length > 0) throw new ConfigError(`--${generatorOnly.join(', --')}: generator options; with --input the file's events are sent as they are`);
      await probeBrokers(kafkaSettings('concord-produce'));
      await ensureTopics(kafkaSettings('concord-produce'), concordTopics(registry, partitions));
      const sent = await sendLines(schema, linesOf(String(v.input)), rate, new Progress(`produce ${schema.name}`, { unit: 'lines sent' }));
      process.stderr.write(
        `sent ${sent.lines} lines of ${String(v.input)} to topic "${topic}" (${keyedBy}) in ${sent.seconds.toFixed(1)} s (${Math.round(sent.lines / Math.max(sent.seconds, 0.001))}/s)` +
          `${sent.unkeyed ? `; ${sent.unkeyed} keyed null (not a JSON object or a bad key value: the workers will dead-letter ${sent.unkeyed === 1 ? 'it' : 'them'})` : ''}` +
          `${sent.keyless ? `; ${sent.keyless} without ${keyPlaces(schema)}, a required field: the workers will dead-letter ${sent.keyless === 1 ? 'it' : 'them'}` : ''}` +
          `${sent.blank ? `; ${sent.blank} blank lines skipped` : ''}\n`,
      );
      const notJson = notJsonWarning(sent, String(v.input));
      if (notJson !== null) process.stderr.write(`${notJson}\n`);
      if (sent.unsent > 0) {
        process.stderr.write(`${sent.unsent} line${sent.unsent === 1 ? ' was' : 's were'} not sent, so no worker or archiver counts ${sent.unsent === 1 ? 'it' : 'them'} ` +
          `(first: ${sent.firstUnsent}); stream or archive the file itself to keep ${sent.unsent === 1 ? 'it' : 'them'} as dead letters, or mend the file\n`);
      }
      return 0;
    }

    if (!GENERATED.includes(schema.name as GeneratedSchema)) {
      throw new ConfigError(`schema "${schema.name}" has no generator (only the seed schemas ${GENERATED.join(' and ')} do): pass --input FILE.jsonl with its events`);
    }
    let count: number;
    if (v.count !== undefined) count = Number(v.count);
    else if (v.duration !== undefined && rate !== undefined) count = Math.round((rate * parseDuration(String(v.duration), '--duration')) / 1000);
    else throw new ConfigError('give --input FILE.jsonl, or for the generator --count N, or --duration D with --rate N/s');
    if (!Number.isInteger(count) || count <= 0) throw new ConfigError(`--count must be a positive integer, got ${String(v.count)}`);
    const disorder = v.disorder === undefined ? PRODUCE_DEFAULTS.disorderMs : parseDuration(String(v.disorder), '--disorder');
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const { day, lines } = producedDay({
      schema: schema.name as GeneratedSchema,
      count,
      date: String(v.date ?? yesterday),
      seed: v.seed === undefined ? undefined : numberFlag(String(v.seed), '--seed', 'any'),
      disorderMs: disorder,
      lateFraction: v['late-fraction'] === undefined ? undefined : parseFraction(String(v['late-fraction']), '--late-fraction'),
      invalidFraction: v['invalid-fraction'] === undefined ? undefined : parseFraction(String(v['invalid-fraction']), '--invalid-fraction'),
      fraudRings: v['fraud-rings'] === undefined ? undefined : numberFlag(String(v['fraud-rings']), '--fraud-rings'),
    });
    checkDayAgainstTimeGuard(schema, String(v.date ?? yesterday), Date.now());
    await probeBrokers(kafkaSettings('concord-produce'));
    await ensureTopics(kafkaSettings('concord-produce'), concordTopics(registry, partitions));
    const sent = await sendLines(schema, (async function* () { yield { lines }; })(), rate, new Progress(`produce ${schema.name}`, { total: lines.length, unit: 'events sent' }));
    const late = `${day.stats.late} late (delivered more than B + L behind the newest event, B = ${formatDuration(disorder)} and L = ${formatDuration(DEFAULT_ALLOWED_LATENESS)}: ` +
      'late for workers running with the default B and L or smaller, which count them once per pipeline)';
    process.stderr.write(
      `sent ${sent.lines} ${schema.name} events to topic "${topic}" (${keyedBy}) in ${sent.seconds.toFixed(1)} s (${Math.round(sent.lines / Math.max(sent.seconds, 0.001))}/s): ` +
        `${day.stats.outOfOrder} out of order (within B), ${late}, ${day.stats.invalid} malformed` +
        `${schema.name === 'transactions' ? `, ${day.stats.fraudUsers} fraud-ring users` : ''}\n`,
    );
    return 0;
  },
};

/** The key field and where events are read for it, to check a misspelt path or alias against: `user_id (read as "user_id", then at "usr.id")`. */
function keyPlaces(schema: EventSchema): string {
  const field = partitionKeyField(schema);
  const path = pathOf(schema.paths, field);
  const places = [JSON.stringify(field), ...aliasesOf(schema.aliases, field).map((a) => JSON.stringify(a)), ...(path === undefined ? [] : [`at ${pathText(path)}`])];
  return places.length === 1 ? field : `${field} (read as ${places.join(', then ')})`;
}
