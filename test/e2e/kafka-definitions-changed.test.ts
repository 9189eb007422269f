import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { concord, concordInBackground } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A user changes the definitions file of a group that ran and runs `run --pipeline all` again on the
// same topics (same default group: the schema's). Found walking the Kafka path with a user's own file
// (2026-12-06): a changed window's refusal was raised while restoring the assignment, and a group read
// to its end delivered no batch to report it, so `run` sat silent ("0 events") until stopped; an added
// pipeline failed with an internal "checkpoints ... disagree on the offset" and a stack trace (exit 1),
// also only once stopped. Each must be a user error, said at once, exit 2.
const ws = tempWorkspace('concord-defs-changed-');
afterAll(() => ws.cleanup());

const meters = {
  time: 'read_at', id: 'reading_id', key: 'meter_id',
  fields: { reading_id: 'string', read_at: 'timestamp', meter_id: 'string', feeder: 'string', kwh: 'decimal(3)' },
};
const timing = { max_out_of_orderness: '20s', allowed_lateness: '2m' };
const pipelines = {
  // Keyed by feeder, not the topic's key (meter_id): through the merge stage.
  feeder_energy_10m: { input: 'meters', key: ['feeder'], window: { hopping: '10m', every: '5m' }, aggregates: { n: 'count', energy: ['sum', 'kwh'] }, ...timing },
  meter_3m: { input: 'meters', key: ['meter_id'], window: { tumbling: '3m' }, aggregates: { n: 'count', meters: ['count_distinct', 'meter_id'] }, ...timing },
  feeder_surge: { input: 'meters', key: 'feeder', rule: { within: '2m', sum: 'kwh', more_than: 5, output: 'total' }, ...timing },
};

function readings(): string[] {
  const start = Date.parse('2026-11-20T10:00:00Z');
  return Array.from({ length: 240 }, (_, i) => JSON.stringify({
    reading_id: `r${i}`, read_at: start + i * 5_000 - (i % 7 === 3 ? 12_000 : 0), meter_id: `m${i % 11}`, feeder: `F${i % 3}`, kwh: ((i * 37) % 1500) / 1000,
  }));
}

describe('concord run after the definitions file changed, on the same topics and group', () => {
  it('an added pipeline and a changed window are refused at once, exit 2, saying what to run instead', async () => {
    const env = { CONCORD_TOPIC_PREFIX: `w5defs${randomUUID().slice(0, 6)}.`, CONCORD_PARTITIONS: '3' };
    const file = (name: string, p: Record<string, unknown>) => ws.file(name, [JSON.stringify({ schemas: { meters }, pipelines: p })]);
    const first = file('first.json', pipelines);
    const produced = concord(['produce', '--schema', 'meters', '--input', ws.file('meters.jsonl', readings()), '--definitions', first], env);
    expect(produced.code, produced.stderr).toBe(0);
    const ran = await concordInBackground(['run', '--pipeline', 'all', '--stop-when-idle', '2s', '--definitions', first], env);
    expect(ran.code, ran.stderr).toBe(0);

    // concord() gives up after 120 s (code -1): the hang before the fix.
    const added = file('added.json', { ...pipelines, feeder_peak_15m: { input: 'meters', key: ['feeder'], window: { tumbling: '15m' }, aggregates: { peak: ['max', 'kwh'] }, ...timing } });
    const withAdded = concord(['run', '--pipeline', 'all', '--stop-when-idle', '2s', '--definitions', added], env);
    expect(withAdded.code, withAdded.stderr).toBe(2);
    expect(withAdded.stderr).toMatch(/"feeder_peak_15m" has no checkpoint of w5defs\w+\.meters:\d in this group, whose other pipelines are checkpointed there \(feeder_energy_10m at offset \d+, meter_3m at offset \d+, feeder_surge at offset \d+\): a pipeline added/);
    expect(withAdded.stderr).toContain('`concord run --pipeline feeder_peak_15m`');
    expect(withAdded.stderr).not.toMatch(/\n\s+at /);

    // Its advice works: the added pipeline in a group of its own reads the topic from its start.
    const alone = concord(['run', '--pipeline', 'feeder_peak_15m', '--stop-when-idle', '2s', '--definitions', added], env);
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stderr).toMatch(/meters: 240 events/);

    const changed = file('changed.json', { ...pipelines, meter_3m: { ...pipelines.meter_3m, window: { tumbling: '5m' } } });
    const withChanged = concord(['run', '--pipeline', 'all', '--workers', '2', '--stop-when-idle', '2s', '--definitions', changed], env);
    expect(withChanged.code, withChanged.stderr).toBe(2);
    expect(withChanged.stderr).toMatch(/meter_3m: the checkpoint of w5defs\w+\.meters:\d is from another definition version; if you changed the definition, run it under a new --group/);
    expect(withChanged.stderr).toMatch(/2 workers ended: exit codes 2, 2/);
    expect(withChanged.stderr).not.toMatch(/\n\s+at /);
  }, 300_000);
});
