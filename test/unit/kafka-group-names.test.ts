import { Consumer } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { groupName, kafkaIdPart } from '../../stream/kafka/topics.ts';

// A schema named `sensor readings` (definitions.md: names are free text, spaces are fine) made the
// consumer group `concord-sensor readings`: the Kafka client refuses group ids and static member ids with
// whitespace, so `concord run` and `archive --from-kafka` of such a schema failed at start with a stack trace.
describe('consumer group ids of schema and pipeline names', () => {
  const clientTakes = (groupId: string, instanceId: string) => () => {
    // Constructing the client validates its options; it connects only when asked to.
    const consumer = new Consumer({ clientId: 'test', bootstrapBrokers: ['127.0.0.1:1'], groupId, groupInstanceId: instanceId });
    void consumer.close();
  };

  it('a schema or pipeline name with whitespace gives ids the Kafka client takes, as the worker and archiver make them', () => {
    for (const name of ['concord-sensor readings', 'concord-hot sites+cold\tsites', 'concord-archiver-sensor readings']) {
      const group = groupName(name, 'p1.');
      expect(group).toMatch(/^p1\.\S+$/);
      expect(clientTakes(group, `concord-${group}-worker-0`)).not.toThrow();
    }
  });

  it('plain and non-ASCII names without whitespace keep their group (committed offsets stay theirs); different names never share one', () => {
    expect(groupName('concord-orders', '')).toBe('concord-orders');
    expect(groupName('concord-Zürich;v2', 'x.')).toBe('x.concord-Zürich;v2');
    expect(kafkaIdPart('sensor readings')).not.toBe(kafkaIdPart('sensor_readings'));
    expect(kafkaIdPart('sensor readings')).not.toBe(kafkaIdPart('sensor  readings'));
  });
});
