import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { endOffsets } from '../../stream/kafka/admin.ts';
import { kafkaSettings } from '../../stream/kafka/common.ts';
import { readToEnd } from '../../stream/kafka/read-to-end.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';

const prefix = `pp${randomUUID().slice(0, 6)}.`;
const env = { CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTIALS_PURGE_INTERVAL_MS: '0' };
const partials = topicNames(prefix).partials('clicks', `${prefix}concord-unique_visitors_5m`);

afterAll(async () => {
  const t = topicNames(prefix);
  for (const name of [t.input('clicks'), t.input('transactions'), t.results, t.late, t.deadLetter, t.checkpoints, partials]) await deleteTopic(name).catch(() => undefined);
});

// The partials topic is not compacted and had the broker's retention (7 days): a live group's merge
// stage left every partial it had merged on disk, ~4 MB a minute at 800 clicks/s.
describe('the merge stage deletes the partials it merged', () => {
  it('leaves the partials topic starting at what its checkpoints committed, results unchanged', async () => {
    const produced = concord(['produce', '--schema', 'clicks', '--count', '4000', '--seed', '3', '--partitions', '2'], env);
    expect(produced.code, produced.stderr).toBe(0);
    const run = concord(['run', '--pipeline', 'unique_visitors_5m', '--stop-when-idle', '3s', '--metrics-port', 'none'], env);
    expect(run.code, run.stderr).toBe(0);
    const s = kafkaSettings('concord-test');
    // The partials still held, read as `concord results` reads a topic (without the purge: 479 of 484
    // offsets written, the rest transaction markers; with it: none).
    const [held, end] = await Promise.all([readToEnd(s, partials).then((records) => records.length), endOffsets(s, partials)]);
    const written = [...end].reduce((n, [, e]) => n + e, 0);
    expect(written).toBeGreaterThan(0);
    expect(held).toBeLessThan(written / 2);
    const results = concord(['results', '--output', '/dev/null', '--pipeline', 'unique_visitors_5m'], env);
    expect(results.code, results.stderr).toBe(0);
  }, 180_000);
});
