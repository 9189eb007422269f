import { KafkaArchiver } from '../../batch/kafka-archiver.ts';
import { claimFileSource } from '../../batch/archive-sources.ts';
import { archiveInputFile } from '../../batch/file-archive.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { ConfigError, StoppedError } from '../../pipeline/errors.ts';
import { parseDuration } from '../../pipeline/time.ts';
import { kafkaSettings } from '../../stream/kafka/client.ts';
import { probeBrokers, requireTopics } from '../../stream/kafka/admin.ts';
import { inputTopic } from '../../stream/kafka/topics.ts';
import { fileSourceName } from '../../sources/jsonl-file.ts';
import { untilStopped } from '../../sources/until-stopped.ts';
import { metricsFlags, metricsFromFlags, metricsOptions, metricsPort } from '../../serve/process-metrics.ts';
import type { CommandSpec, FlagValues } from '../args.ts';
import { logFlags, logOptions, processLog } from '../logging.ts';
import { Progress } from '../progress.ts';
import { applyKafkaFlags, checkKafkaNames, kafkaFlags, kafkaConfigOption, kafkaOptions, loadRegistry, positiveIntegerFlag } from './shared.ts';
import { onStopSignal } from '../stop-signals.ts';

export const archiveCommand: CommandSpec = {
  name: 'archive',
  summary: 'write events (late ones included) to Parquet partitioned by event time',
  usage: 'concord archive --schema NAME (--input EVENTS.jsonl | --from-kafka [--stop-when-idle 10s]) --dir ARCHIVE_DIR',
  options: [
    '--schema NAME              a schema of the definitions file (`concord validate` lists the pipelines\' inputs)',
    '--input FILE               events, one JSON object per line; - : standard input',
    '--from-kafka               or: consume the raw topic in consumer group <prefix>concord-archiver-<schema>',
    '                           (prefix: env CONCORD_TOPIC_PREFIX); files <topic>_<partition>-<first>-<last offset>.parquet,',
    '                           offsets committed after the rename (killed and restarted: no duplicates, no gaps);',
    '                           a topic deleted and made again since it was archived here is refused (exit 2)',
    '--stop-when-idle D         with --from-kafka: exit once caught up and quiet for D',
    '--group NAME               with --from-kafka: the consumer group (default <prefix>concord-archiver-<schema>);',
    '                           one per archive directory: a group that archived into another one is refused',
    '--flush-records N          with --from-kafka: records per partition per file (default 50000)',
    '--flush-interval D         with --from-kafka: or once a partition\'s oldest buffered record waited D (default 60s;',
    '                           each flush is a file per event-time hour: shorter means more, smaller files)',
    ...kafkaOptions.map((line) => line.replace('Kafka bootstrap servers', 'with --from-kafka: bootstrap servers')),
    kafkaConfigOption.replace('JSON settings', 'with --from-kafka: JSON settings'),
    ...metricsOptions.map((line) => line.replace('--metrics-port N          ', '--metrics-port N  (kafka) ')),
    ...logOptions,
    '--dir DIR                  archive root: <dir>/<schema>/dt=YYYY-MM-DD/hour=HH/*.parquet (UTC);',
    '                           rejected lines go to <dir>/<schema>/_rejected/. Reruns never duplicate;',
    '                           a file\'s events are named by its file name: two inputs of one name (d21/clicks.jsonl,',
    '                           d23/clicks.jsonl) into one DIR are refused (rename one, e.g. with its date).',
    '                           A file archived again that grew (a log still written) adds only its new lines;',
    '                           one that changed otherwise (edited, truncated) is refused (exit 2): see --replace',
    '--replace                  with --input: archive the file whole, replacing what was archived of it',
  ],
  flags: {
    schema: { type: 'string' }, input: { type: 'string' }, dir: { type: 'string' }, 'from-kafka': { type: 'boolean' },
    'stop-when-idle': { type: 'string' }, 'flush-records': { type: 'string' }, 'flush-interval': { type: 'string' }, group: { type: 'string' }, replace: { type: 'boolean' }, ...metricsFlags, ...logFlags, ...kafkaFlags,
  },
  required: ['schema', 'dir'],
  async run(v) {
    checkSource(v);
    // The Kafka settings (security too) only when Kafka is the source: an archive of a file needs none.
    if (v['from-kafka']) applyKafkaFlags(v);
    const registry = await loadRegistry(v);
    const schema = registry.schema(String(v.schema));
    const sketched = registry.sketchedFields(schema.name);
    if (v['from-kafka']) {
      checkKafkaNames(v);
      // Checked before the broker is asked: a bad duration was said after it, and --flush-records was taken
      // as it came (abc: never a flush by count, 0 or -5: a file per record).
      const flushRecords = v['flush-records'] === undefined ? undefined : positiveIntegerFlag(String(v['flush-records']), '--flush-records');
      const flushIntervalMs = v['flush-interval'] === undefined ? undefined : flushInterval(String(v['flush-interval']));
      const stopWhenIdleMs = v['stop-when-idle'] ? parseDuration(String(v['stop-when-idle']), '--stop-when-idle') : undefined;
      metricsPort(v);
      const log = processLog(v, 'concord-archiver');
      const settings = kafkaSettings('concord-archiver');
      // Said at once: the consumer would retry a missing broker or topic for many seconds, then fail unclearly.
      await probeBrokers(settings);
      await requireTopics(settings, [inputTopic(schema.name)]);
      const served = await metricsFromFlags(v, log.lineSink());
      const archiver = new KafkaArchiver({
        schema,
        sketched,
        dir: String(v.dir),
        settings,
        ...(v.group === undefined ? {} : { groupId: String(v.group) }),
        ...(flushRecords === undefined ? {} : { flushRecords }),
        ...(flushIntervalMs === undefined ? {} : { flushIntervalMs }),
        ...(stopWhenIdleMs === undefined ? {} : { stopWhenIdleMs }),
        log: log.lineSink(schema.name),
        warn: (line) => log.warn(line, { context: schema.name }),
        ...(served ? { metrics: served.metrics } : {}),
      });
      onStopSignal(() => archiver.stop());
      const stats = await archiver.run().finally(() => served?.close());
      log.info(
        `archived ${stats.events} ${schema.name} events from Kafka and ${stats.rejected} rejected records (with their reason, in _rejected/) ` +
          `of ${stats.records} records read, in ${stats.flushes} flushes (${stats.skipped} already archived, skipped)` +
          (stats.deleted > 0 ? `; ${stats.deleted} records were deleted from the topic before they were archived` : ''),
        { context: schema.name, final: true, ...stats },
      );
      log.flush();
      return 0;
    }
    await claimFileSource(String(v.dir), schema, fileSourceName(String(v.input)), String(v.input));
    const progress = new Progress(`archive ${schema.name}`, { unit: 'events' });
    let staged = 0;
    // Writing the hours takes seconds per million events after the last input line: said as it goes.
    let writing: Progress | undefined;
    // Stopped (Ctrl-C, SIGTERM): the write fails as on any error, so its <dir>/.tmp (the staging's spill,
    // Parquet files not yet renamed) goes with it; Node's default was to die at once and leave them.
    const stop = new AbortController();
    const removeStop = onStopSignal((signal) => stop.abort(new StoppedError(signal)));
    let archived;
    try {
      const archive = new ParquetArchive(String(v.dir), schema, { sketched });
      archived = await archiveInputFile(archive, String(v.dir), schema, String(v.input), {
        replace: v.replace === true,
        wrap: (source) => untilStopped(source, stop.signal),
        onProgress: (n) => { staged = n; progress.update(n); },
        onFiles: (written, files) => {
          stop.signal.throwIfAborted();
          if (writing === undefined) {
            progress.done(staged);
            writing = new Progress(`archive ${schema.name}: writing Parquet files`, { total: files });
          }
          writing.update(written);
        },
      });
    } catch (error) {
      if (!(error instanceof StoppedError)) throw error;
      process.stderr.write(
        `concord archive: ${error.signal}: stopped before the end of ${String(v.input)}; its temporary files are removed, ` +
          'hour files written before stay until a rerun of the same input replaces them (run it again)\n',
      );
      return error.signal === 'SIGINT' ? 130 : 143;
    } finally {
      removeStop();
    }
    const stats = archived.stats;
    if (writing === undefined) progress.done(stats.events);
    process.stderr.write(`archived ${stats.events} ${schema.name} events into ${stats.files.length} Parquet files, ${stats.deadLetters} rejected\n`);
    // Said apart from the summary line (scripts match it): what of the file this run archived.
    if (archived.kind === 'unchanged') process.stderr.write(`${String(v.input)} is unchanged since it was archived: nothing to add\n`);
    if (archived.lines) {
      process.stderr.write(`${String(v.input)} grew since it was archived: its lines ${archived.lines.first}-${archived.lines.last} were added, the ${archived.lines.first} before kept as archived\n`);
    }
    return 0;
  },
};

/** --flush-interval: at least 1 s (0 or 5ms would write a file per batch). */
function flushInterval(text: string): number {
  const ms = parseDuration(text, '--flush-interval');
  if (ms < 1_000) throw new ConfigError(`--flush-interval: "${text}" is under 1s; each flush writes files: give e.g. 60s`);
  return ms;
}

/** Kafka-only flags are used with --from-kafka only. */
const KAFKA_ONLY = ['stop-when-idle', 'flush-records', 'flush-interval', 'group', 'metrics-port', 'metrics-host', 'brokers', 'config'];

/** One source: --input FILE or --from-kafka, never both (one was silently ignored) nor none. */
function checkSource(v: FlagValues): void {
  if (v['from-kafka'] && v.input !== undefined) throw new ConfigError('--input and --from-kafka are two sources: give one (a file, or the schema\'s topic)');
  if (v['from-kafka'] && v.replace !== undefined) throw new ConfigError('--replace: an option of --input (a file archived again), not of --from-kafka');
  if (v['from-kafka']) return;
  if (v.input === undefined) throw new ConfigError('give --input FILE, or --from-kafka');
  const kafkaOnly = KAFKA_ONLY.filter((f) => v[f] !== undefined);
  if (kafkaOnly.length > 0) throw new ConfigError(`--${kafkaOnly.join(', --')}: ${kafkaOnly.length === 1 ? 'an option' : 'options'} of --from-kafka, not of --input`);
}
