import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { ridesRegistry } from '../fixtures/rides-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Kafka failures as a user meets them: a broker that is not running (one line, in seconds, no stack,
// not the cause of each retry), a topic that does not exist (the user's mistake, not "is the broker
// up?"), and contradictory flags. The missing-topic case needs the broker of `npm run infra:up`.
const ws = tempWorkspace('concord-cli-kafka-errors-');
afterAll(() => ws.cleanup());
const { file: rides } = ridesRegistry(ws.dir);
const input = ws.file('rides.jsonl', [{ ride_id: 'r1', pickup_at: '2026-12-01T00:00:00Z', driver_id: 'd1', city: 'Lisbon', fare: '1.00', passengers: 1 }]);
const noBroker = { KAFKA_BROKERS: '127.0.0.1:1' };
const unreachable = /^cannot reach the Kafka broker at 127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\): is it running there\? `npm run infra:up` starts one on this machine; or name the right address with --brokers or env KAFKA_BROKERS$/;

function timed(args: string[], env: Record<string, string>) {
  const started = Date.now();
  const r = concord(args, env);
  return { ...r, seconds: (Date.now() - started) / 1000 };
}

// Each case spawns the CLI up to a dozen times (~1-5 s each on a loaded 2-core machine): more than the default 60 s.
describe('Kafka failures from the CLI', { timeout: 180_000 }, () => {
  for (const [cmd, args] of [
    ['produce', ['produce', '--definitions', rides, '--schema', 'rides', '--input', input]],
    ['results', ['results', '--definitions', rides, '--output', ws.file('out.jsonl')]],
    ['archive', ['archive', '--definitions', rides, '--schema', 'rides', '--from-kafka', '--dir', join(ws.dir, 'archive')]],
  ] as const) {
    it(`${cmd} with no broker: one line saying what to do, within seconds, exit 1`, () => {
      const r = timed([...args], noBroker);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]!.replace(`concord ${cmd}: `, '')).toMatch(unreachable);
      expect(r.seconds).toBeLessThan(15); // `results` took 31 s: its reads retry for 30 s
    });

    it(`${cmd} with an empty or malformed KAFKA_BROKERS: the user's mistake, exit 2, one line`, () => {
      const what = 'name the brokers as host:port[,host:port] (unset: 127.0.0.1:9092)';
      const empty = concord([...args], { KAFKA_BROKERS: '' });
      expect(empty.code, empty.stderr).toBe(2);
      expect(empty.stderr).toBe(`concord ${cmd}: KAFKA_BROKERS is empty: ${what}\n`);
      const port = concord([...args], { KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:abc' });
      expect(port.code, port.stderr).toBe(2);
      expect(port.stderr).toBe(`concord ${cmd}: KAFKA_BROKERS "127.0.0.1:abc" is not host:port: ${what}\n`);
    });

    it(`${cmd} --brokers: the flag wins over KAFKA_BROKERS, and a malformed one is named as the flag`, () => {
      const r = timed([...args, '--brokers', '127.0.0.1:1'], { KAFKA_BROKERS: '127.0.0.1:9092' });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().replace(`concord ${cmd}: `, '')).toMatch(unreachable);
      const bad = concord([...args, '--brokers', 'localhost'], noBroker);
      expect(bad.code, bad.stderr).toBe(2);
      expect(bad.stderr).toBe(`concord ${cmd}: --brokers "localhost" is not host:port: name the brokers as host:port[,host:port] (unset: 127.0.0.1:9092)\n`);
      expect(concord([cmd, '--help']).stdout).toContain('--brokers LIST');
    });
  }

  it('archive --from-kafka of a topic that does not exist: the user\'s mistake, exit 2, one line', () => {
    const prefix = `missing-${randomUUID().slice(0, 8)}.`;
    const r = concord(['archive', '--definitions', rides, '--schema', 'rides', '--from-kafka', '--dir', join(ws.dir, 'archive'), '--stop-when-idle', '1s'], { CONCORD_TOPIC_PREFIX: prefix });
    expect(r.code, r.stderr).toBe(2);
    const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
    expect(r.stderr).toBe(`concord archive: topic ${prefix}rides does not exist on ${brokers} (produce to it first, or check CONCORD_TOPIC_PREFIX)\n`);
  });

  // Said before the broker is asked (noBroker: a check made after connecting would say "cannot reach"):
  // a group or worker id with a space was refused by the client only once a consumer started, as a
  // stack trace with exit 1 after the topics were made; a bad prefix by the broker as "invalid topic".
  it('a --group or --worker-id Kafka does not take, or a bad CONCORD_TOPIC_PREFIX: exit 2, one line, before connecting', () => {
    const archive = ['archive', '--definitions', rides, '--schema', 'rides', '--from-kafka', '--dir', join(ws.dir, 'archive')];
    const spaced = 'concord %s: --group "my group": Kafka takes no spaces or line breaks in group and member ids; use e.g. "my-group"\n';
    for (const args of [['run', '--definitions', rides, '--pipeline', 'all'], ['sink', '--definitions', rides, '--from-kafka'], archive]) {
      const r = concord([...args, '--group', 'my group'], noBroker);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(spaced.replace('%s', args[0]!));
    }
    const worker = concord(['run', '--definitions', rides, '--pipeline', 'all', '--worker-id', 'a b'], noBroker);
    expect(worker.code, worker.stderr).toBe(2);
    expect(worker.stderr).toBe('concord run: --worker-id "a b": Kafka takes no spaces or line breaks in group and member ids; use e.g. "a-b"\n');
    const empty = concord(['run', '--definitions', rides, '--pipeline', 'all', '--worker-id', ''], noBroker);
    expect(empty.code, empty.stderr).toBe(2);
    expect(empty.stderr).toBe('concord run: --worker-id is empty: give a name (no spaces), e.g. worker-1\n');
    for (const args of [['produce', '--definitions', rides, '--schema', 'rides', '--input', input], ['results', '--definitions', rides, '--output', ws.file('p.jsonl')], archive]) {
      const r = concord(args, { ...noBroker, CONCORD_TOPIC_PREFIX: 'run 1/' });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`concord ${args[0]}: CONCORD_TOPIC_PREFIX "run 1/": Kafka topic names take only letters, digits, '.', '_' and '-' (e.g. run1- or test.42.)\n`);
    }
    // A bad CONCORD_PARTITIONS was taken as 6, silently.
    for (const value of ['abc', '0', '-2', '1.5']) {
      const r = concord(['run', '--definitions', rides, '--pipeline', 'all'], { ...noBroker, CONCORD_PARTITIONS: value });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`concord run: environment CONCORD_PARTITIONS "${value}": use a whole number of partitions, at least 1 (default 6)\n`);
    }
  });

  // Flags are the user's to fix before anything runs: run said a bad duration after warning that it was
  // creating the input topics (with --workers N, once per worker process), archive took --flush-records
  // abc or 0 as it came, and neither was said before the broker was asked (noBroker: exit 1 instead).
  it('bad run and archive flags: exit 2, said once, before the broker is asked', () => {
    const duration = (flag: string) => `--${flag}: "x" is not a duration; use an integer with ms|s|m|h|d, e.g. 30s, 5m, 0\n`;
    for (const [flag, extra] of [['stop-when-idle', []], ['idle-timeout', ['--workers', '2']]] as const) {
      const r = concord(['run', '--definitions', rides, '--pipeline', 'all', `--${flag}`, 'x', ...extra], noBroker);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`concord run: ${duration(flag)}`);
    }
    const port = concord(['run', '--definitions', rides, '--pipeline', 'all', '--workers', '2', '--metrics-port', 'x'], noBroker);
    expect(port.code, port.stderr).toBe(2);
    expect(port.stderr).toBe('concord run: --metrics-port x: give a port number (0: any free port; none: no metrics server)\n');
    const archive = ['archive', '--definitions', rides, '--schema', 'rides', '--from-kafka', '--dir', join(ws.dir, 'archive')];
    for (const n of ['abc', '0', '-5']) {
      const r = concord([...archive, `--flush-records=${n}`], noBroker);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`concord archive: --flush-records must be a positive integer, got ${n}\n`);
    }
    const interval = concord([...archive, '--flush-interval', '5ms'], noBroker);
    expect(interval.code, interval.stderr).toBe(2);
    expect(interval.stderr).toBe('concord archive: --flush-interval: "5ms" is under 1s; each flush writes files: give e.g. 60s\n');
    const idle = concord([...archive, '--stop-when-idle', 'x'], noBroker);
    expect(idle.code, idle.stderr).toBe(2);
    expect(idle.stderr).toBe(`concord archive: ${duration('stop-when-idle')}`);
  });

  // Two deployments under their own prefixes that both named `--group v2` shared one group and its
  // transactional ids, and fenced each other's producers: a --group is used as named (as Kafka's group.id).
  it('run --group without the topic prefix warns that another deployment naming it would share it', () => {
    const r = concord(['run', '--definitions', rides, '--pipeline', 'all', '--group', 'v2', '--log-format', 'text'], { ...noBroker, CONCORD_TOPIC_PREFIX: 'team1_' });
    expect(r.code).toBe(1); // no broker: the warning comes before it is asked
    expect(r.stderr).toContain('--group v2 is used as named, without the topic prefix "team1_": another deployment that names the same group shares it');
    expect(r.stderr).toContain('name it team1_v2 to keep it this deployment\'s');
    const prefixed = concord(['run', '--definitions', rides, '--pipeline', 'all', '--group', 'team1_v2'], { ...noBroker, CONCORD_TOPIC_PREFIX: 'team1_' });
    expect(prefixed.stderr).not.toContain('is used as named');
  });

  it('produce --date of a day the workers would quarantine whole: exit 2, before the broker is asked', () => {
    const r = concord(['produce', '--schema', 'clicks', '--count', '10', '--date', '2099-01-01'], noBroker);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe('concord produce: --date 2099-01-01 lies more than max_future_skew (1h) ahead of now: the workers would quarantine every event ' +
      '(reason future_timestamp); give a past date (default: yesterday), or set "max_future_skew": "off" on schema clicks in the definitions\n');
  });

  it('sink with a store URL it does not know: exit 2, one line, and no topics made first', () => {
    const prefix = `badstore-${randomUUID().slice(0, 8)}.`;
    const r = concord(['sink', '--definitions', rides, '--from-kafka', '--store', 'mysql://db'], { CONCORD_TOPIC_PREFIX: prefix });
    expect(r.code, r.stderr).toBe(2);
    // Before: a warning that concord.results and concord.late were being created, and they were.
    expect(r.stderr).toBe('concord sink: store "mysql://db": use duckdb:<file>, duckdb::memory: or postgres://user@host:port/db (env CONCORD_STORE)\n');
    const results = concord(['results', '--definitions', rides, '--output', ws.file('none.jsonl')], { CONCORD_TOPIC_PREFIX: prefix });
    expect(results.code, results.stderr).toBe(2);
    expect(results.stderr).toContain(`topic ${prefix}concord.results does not exist`);
  });

  it('archive refuses contradictory sources and Kafka-only flags without --from-kafka', () => {
    const both = concord(['archive', '--definitions', rides, '--schema', 'rides', '--from-kafka', '--input', input, '--dir', join(ws.dir, 'a')], noBroker);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('concord archive: --input and --from-kafka are two sources: give one (a file, or the schema\'s topic)\n');
    const idle = concord(['archive', '--definitions', rides, '--schema', 'rides', '--input', input, '--dir', join(ws.dir, 'a'), '--stop-when-idle', '1s']);
    expect(idle.code).toBe(2);
    expect(idle.stderr).toBe('concord archive: --stop-when-idle: an option of --from-kafka, not of --input\n');
  });
});
