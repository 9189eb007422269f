import { ConfigError } from '../../pipeline/errors.ts';

/**
 * The names a user gives Kafka through Concord: the topic prefix (env CONCORD_TOPIC_PREFIX, in front of
 * every topic and consumer group), `--group` and `--worker-id` (in group ids, static member ids,
 * transactional and client ids). Checked by the commands before they talk to the broker: the client
 * refused a group or member id with whitespace only when a consumer started (a stack trace, exit 1,
 * after the topics were made), and the broker a prefix it takes for no topic name ("invalid topic").
 */

/** Characters Kafka takes in a topic name (its `Topic.validate`). */
const TOPIC_CHARS = /^[A-Za-z0-9._-]*$/;
/** Kafka's limit on a topic name's length; a prefix leaves room for the names it precedes. */
const MAX_PREFIX = 200;

/** The topic prefix as given (`''` for none), or a ConfigError saying what Kafka takes. */
export function checkTopicPrefix(prefix: string, from = 'CONCORD_TOPIC_PREFIX'): string {
  if (!TOPIC_CHARS.test(prefix)) {
    throw new ConfigError(`${from} ${JSON.stringify(prefix)}: Kafka topic names take only letters, digits, '.', '_' and '-' (e.g. run1- or test.42.)`);
  }
  if (prefix.length > MAX_PREFIX) throw new ConfigError(`${from} is ${prefix.length} characters long: at most ${MAX_PREFIX} (Kafka topic names end at 249)`);
  return prefix;
}

/** A consumer group or worker id as the Kafka client takes it: not empty, no whitespace. */
export function checkKafkaId(value: string, from: string): string {
  if (value.trim() === '') throw new ConfigError(`${from} is empty: give a name (no spaces), e.g. ${from === '--worker-id' ? 'worker-1' : 'my-group'}`);
  if (/\s/.test(value)) throw new ConfigError(`${from} ${JSON.stringify(value)}: Kafka takes no spaces or line breaks in group and member ids; use e.g. ${JSON.stringify(value.trim().replace(/\s+/g, '-'))}`);
  return value;
}
