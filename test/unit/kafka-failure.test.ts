import { MultipleErrors, NetworkError, UserError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { KafkaClientError, KafkaTopicMissingError, kafkaFailure } from '../../stream/kafka/common.ts';

// What a Kafka failure says: the client's errors as it throws them (an unreachable broker is a
// MultipleErrors of one NetworkError per retry; a topic that is not there, a UserError).
const s = { brokers: ['127.0.0.1:1'], clientId: 'test' };

function refused(): Error {
  const econnrefused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const attempts = Array.from({ length: 9 }, () => new MultipleErrors('Cannot connect to any broker.', [new NetworkError('Connection to 127.0.0.1:1 failed.', { cause: econnrefused })]));
  return new MultipleErrors('Listing topics failed.', [new MultipleErrors('metadata failed 9 times.', attempts)]);
}

describe('kafkaFailure', () => {
  it('an unreachable broker: one sentence with the cause once and what to do, external and retriable', () => {
    const e = kafkaFailure('creating topics', s, refused());
    expect(e).toBeInstanceOf(KafkaClientError);
    expect(e.message).toBe('cannot reach the Kafka broker at 127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1): is it running there? `npm run infra:up` starts one on this machine; or name the right address with --brokers or env KAFKA_BROKERS');
    expect(e.domain).toBe('external');
    expect(e.retriable).toBe(true);
  });

  it('a topic that does not exist: said so, without the broker hint (still retriable under a running worker)', () => {
    const e = kafkaFailure('joining the consumer group', { ...s, brokers: ['127.0.0.1:9092'] }, new UserError('Unknown topic rides.'));
    expect(e.message).toBe('topic rides does not exist on 127.0.0.1:9092 (produce to it first, or check CONCORD_TOPIC_PREFIX)');
    expect(e.domain).toBe('external');
    // Found before a command starts (admin.ts requireTopics): the user's to fix, exit 2.
    const before = new KafkaTopicMissingError('rides', ['127.0.0.1:9092']);
    expect(before.message).toBe(e.message);
    expect([before.domain, before.retriable]).toEqual(['user', false]);
  });

  it('anything else: what failed and what the broker said, and no "is the broker up?" guess', () => {
    const e = kafkaFailure('producing', s, new Error('MESSAGE_TOO_LARGE'));
    expect(e.message).toBe('producing failed against 127.0.0.1:1: MESSAGE_TOO_LARGE');
    const again = new KafkaClientError('already said');
    expect(kafkaFailure('x', s, again)).toBe(again);
  });
});
