import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord, concordInBackground, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Concord's own records over the input line limit (CONCORD_MAX_LINE_BYTES, 1 MiB, meant for input events)
// are read whole by every Concord reader: the merge stage's partials (an exact distinct count's
// accumulator holds every value seen) and the sink's late events (a late event carries the whole event,
// which may itself be near the limit). Before, the merge stage and the sink took them for bad records and failed.
const ws = tempWorkspace('concord-large-own-');
afterAll(() => ws.cleanup());
const HOUR = Date.parse('2026-11-23T10:00:00Z');

const definitions = {
  schemas: {
    visits: {
      time: 'ts', id: 'visit_id', key: 'site',
      fields: { visit_id: 'string', ts: 'timestamp', site: 'string', country: 'string', visitor: 'string', note: 'string?' },
    },
  },
  pipelines: {
    // Keyed by country, not by the partition key (site): partials through the merge stage.
    visitors_per_country: {
      input: 'visits', key: 'country', window: { tumbling: '1h' }, aggregates: { visits: 'count', visitors: ['count_distinct', 'visitor'] },
      max_out_of_orderness: '1s', allowed_lateness: '0s',
    },
  },
};


describe('Concord\'s own Kafka records over the input line limit', () => {
  it('a partial of 60,000 distinct visitors and a late event of ~1 MiB: merged and sunk, nothing refused', async () => {
    const env = { CONCORD_TOPIC_PREFIX: `big${randomUUID().slice(0, 6)}.` };
    const d = ['--definitions', ws.file('visits.definitions.json', [JSON.stringify(definitions)])];
    // 60,000 visitors with 40-character ids on two sites (two partitions): each partition's accumulator
    // of hour 10 in FR is ~1.3 MB as JSON.
    const lines = Array.from({ length: 60_000 }, (_, i) => JSON.stringify({
      visit_id: `v${i}`, ts: HOUR + Math.floor(i / 20), site: i % 2 ? 'a' : 'b', country: 'FR', visitor: `visitor-${String(i).padStart(31, '0')}`,
    }));
    // Hour 11 moves every site's watermark past hour 10; then a late event 140 bytes under the 1 MiB input
    // limit (what a topic of the default max.message.bytes takes with its batch's overhead): its late
    // record, the event plus where and why it was late, is over the limit.
    lines.push(...['a', 'b'].map((site, i) => JSON.stringify({ visit_id: `h11-${i}`, ts: HOUR + 3_600_000 + 10_000, site, country: 'FR', visitor: 'x' })));
    const late = (note: string) => JSON.stringify({ visit_id: 'late-1', ts: HOUR + 1_000, site: 'a', country: 'FR', visitor: 'y', note });
    lines.push(late('n'.repeat((1 << 20) - late('').length - 140)));
    const input = ws.file('visits.jsonl', lines);

    const produced = concord(['produce', '--schema', 'visits', '--input', input, '--partitions', '2', ...d], env);
    expect(produced.code, produced.stderr).toBe(0);
    const streamed = await concordInBackground(['run', '--pipeline', 'all', '--stop-when-idle', '2s', ...d], env);
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(streamed.stderr).toMatch(/visits: 60003 events, .*\b1 late\b/);

    const realtime = join(ws.dir, 'realtime.jsonl');
    const exported = concord(['results', '--output', realtime, ...d], env);
    expect(exported.code, exported.stderr).toBe(0);
    const hour10 = jsonLines(readFileSync(realtime, 'utf8')).filter((r) => r.window_start === new Date(HOUR).toISOString() || r.window_start === HOUR);
    expect(hour10.at(-1)).toMatchObject({ country: 'FR', visits: 60_000, visitors: 60_000 });

    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const sink = concord(['sink', '--from-kafka', '--stop-when-idle', '2s', '--store', store, ...d], env);
    expect(sink.code, sink.stderr).toBe(0);
    expect(sink.stderr).toMatch(/\b1 late\b/);
  }, 300_000);
});
