import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { ridesRegistry } from '../fixtures/rides-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// What the CLI says as a new user meets it: help texts of the user's definitions, names of what was
// unknown, progress lines counted in one unit, and a closed stdout pipe. (Summary lines keep their
// wording, `1 events` too: scripts match them.)
const ws = tempWorkspace('concord-cli-messages-');
afterAll(() => ws.cleanup());
const root = fileURLToPath(new URL('../..', import.meta.url));
const { file: rides } = ridesRegistry(ws.dir);

const events = ws.file('events.jsonl', [
  { event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' },
  '',
  'not json',
]);

describe('concord CLI messages', () => {
  it('jobs with an unknown subcommand names it and lists the valid ones', () => {
    const r = concord(['jobs', 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('concord jobs: unknown subcommand "frobnicate": use one of worker, schedule, unschedule, enqueue, retry, backfill, status (`concord jobs status`)');
    expect(concord(['jobs']).stderr).toMatch(/^concord jobs: say what to do: use one of worker, /);
  });

  it('help: reconcile names no seed pipeline and its usage has --late and --fail-on-unexplained; results lists --output first', () => {
    const r = concord(['reconcile', '--help', '--definitions', rides]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/page_views_per_minute|unique_visitors_5m|fraud_multi_country/);
    expect(r.stdout).toMatch(/--pipeline NAME {12}a pipeline of the definitions file/);
    const usage = r.stdout.split('\n').find((l) => l.startsWith('Usage: '))!;
    expect(usage).toContain('[--late LATE.jsonl]');
    expect(usage).toContain('[--fail-on-unexplained]');
    const results = concord(['results', '--help']).stdout;
    expect(results.indexOf('  --output FILE')).toBeGreaterThan(-1);
    expect(results.indexOf('  --output FILE')).toBeLessThan(results.indexOf('  --late-output FILE'));
  });

  it('reconcile refuses the flags of its other mode (they were silently ignored)', () => {
    const day = concord(['reconcile', '--date', '2026-12-01', '--archive', ws.dir, '--output', ws.file('rep.json')]);
    expect(day.code).toBe(2);
    expect(day.stderr.split('\n')[0]).toBe('concord reconcile: --output: an option of reconciling files (without --date) only');
    const files = concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', events, '--archive', ws.dir, '--output', ws.file('rep.json'), '--report-dir', ws.dir, '--job-id', 'j']);
    expect(files.code).toBe(2);
    expect(files.stderr.split('\n')[0]).toBe('concord reconcile: --report-dir, --job-id: options of reconciling a day in the store (--date D) only');
  });

  it('backfill --from/--to refuses a day the calendar lacks, before any store is opened (2026-11-31 ran from 2026-12-01, exit 0)', () => {
    const store = `duckdb:${join(ws.dir, 'backfill-dates.duckdb')}`;
    const r = concord(['backfill', '--from', '2026-11-31', '--to', '2026-12-01', '--archive', ws.dir, '--store', store]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('concord backfill: --from: "2026-11-31" is not a date: use YYYY-MM-DD (UTC)\n');
    expect(r.stdout).toBe('');
  });

  it('jobs backfill --from/--to: the flags checked as backfill checks them, before Redis is asked (2026-11-31 ran from 2026-12-01)', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:1', CONCORD_QUEUE_PREFIX: 'cm-jobs2' }; // nothing listens: a check after the probe would say so
    const impossible = concord(['jobs', 'backfill', '--from', '2026-11-31', '--to', '2026-12-02'], env);
    expect(impossible.code).toBe(2);
    expect(impossible.stderr).toBe('concord jobs: --from: "2026-11-31" is not a date: use YYYY-MM-DD (UTC)\n');
    const backwards = concord(['jobs', 'backfill', '--from', '2026-11-22', '--to', '2026-11-16'], env);
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toBe('concord jobs: --from 2026-11-22 is after --to 2026-11-16: give the earlier day as --from (both are included)\n');
    const half = concord(['jobs', 'backfill', '--from', '2026-11-16'], env);
    expect(half.code).toBe(2);
    expect(half.stderr).toBe('concord jobs: --from 2026-11-16 needs --to too (both days are included: --to 2026-11-16 for that day alone)\n');
  });

  it('--pipeline all to a command of one pipeline and one output file: said so, with the pipelines and what runs them all', () => {
    const seed = 'name one of page_views_per_minute, unique_visitors_5m, fraud_multi_country';
    const stream = concord(['stream', '--pipeline', 'all', '--input', events, '--output', ws.file('all.jsonl')]);
    expect(stream.code).toBe(2);
    expect(stream.stderr).toBe(`concord stream: --pipeline all: this command writes one pipeline's results to one file; ${seed} (\`concord run --pipeline all\` runs them all over Kafka, \`concord demo\` over a generated day)\n`);
    const replay = concord(['replay', '--pipeline', 'all', '--input', ws.dir, '--output', ws.file('all-replay.jsonl')]);
    expect(replay.stderr).toBe(`concord replay: --pipeline all: this command writes one pipeline's results to one file; ${seed} (run it once per pipeline)\n`);
  });

  it('replay of an archive without the pipeline\'s schema is refused, naming what it holds (was "replayed 0 results", exit 0)', () => {
    const archive = join(ws.dir, 'clicks-archive');
    expect(concord(['archive', '--schema', 'clicks', '--input', events, '--dir', archive]).code).toBe(0);
    const r = concord(['replay', '--definitions', rides, '--pipeline', 'fares_per_city_15m', '--input', archive, '--output', ws.file('fares-replay.jsonl')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`concord replay: --input ${archive} holds no events of schema "rides" (the input of fares_per_city_15m; no folder ${join(archive, 'rides')}); ` +
      `it holds the folders clicks: archive them first with \`concord archive --schema rides --dir ${archive}\`, or check --input and --definitions\n`);
    expect(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', archive, '--output', ws.file('views-replay.jsonl')]).code).toBe(0);
  });

  it('replay and reconcile given a schema\'s folder of the archive (or a day\'s) name the root to give (they advised archiving into it)', () => {
    const archive = join(ws.dir, 'slip-archive');
    expect(concord(['archive', '--schema', 'clicks', '--input', events, '--dir', archive]).code).toBe(0);
    const schemaFolder = join(archive, 'clicks');
    const replay = concord(['replay', '--pipeline', 'page_views_per_minute', '--input', schemaFolder, '--output', ws.file('slip-replay.jsonl')]);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toBe(`concord replay: --input ${schemaFolder} is the folder of schema "clicks" in the archive ${archive}: give the archive's root, ${archive}\n`);
    const day = join(schemaFolder, 'dt=1970-01-01');
    expect(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', day, '--output', ws.file('slip-replay.jsonl')]).stderr)
      .toBe(`concord replay: --input ${day} is a folder inside the folder of schema "clicks" in the archive ${archive}: give the archive's root, ${archive}\n`);
    const realtime = ws.file('slip-realtime.jsonl');
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', events, '--output', realtime]).code).toBe(0);
    const reconcile = concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', realtime, '--archive', schemaFolder, '--output', ws.file('slip-report.json')]);
    expect(reconcile.code).toBe(2);
    expect(reconcile.stderr).toBe(`concord reconcile: no archive to read: ${schemaFolder} is the folder of schema "clicks" in the archive ${archive}: give the archive's root, ${archive}\n`);
  });

  it('replay says when the archive holds an event id twice, and --dedupe counts it once as reconcile does (its numbers differed from reconcile\'s "replay" without a word)', () => {
    const archive = join(ws.dir, 'repeated-archive');
    const resent = ws.file('resent.jsonl', [
      { event_id: 'e1', ts: 1_000, url: '/a', visitor_id: 'v1' },
      { event_id: 'e2', ts: 2_000, url: '/a', visitor_id: 'v2' },
      { event_id: 'e1', ts: 1_000, url: '/a', visitor_id: 'v1' },
    ]);
    expect(concord(['archive', '--schema', 'clicks', '--input', resent, '--dir', archive]).code).toBe(0);
    const views = (file: string) => (JSON.parse(readFileSync(file, 'utf8').trim()) as { views: number }).views;
    const plain = concord(['replay', '--pipeline', 'page_views_per_minute', '--input', archive, '--output', ws.file('every-delivery.jsonl')]);
    expect(plain.code).toBe(0);
    expect(plain.stderr.split('\n')[1]).toBe('  1 event ids are archived more than once (1 repeated deliveries), each delivery counted as the stream counts them; reconcile and report count each id once: --dedupe replays so');
    expect(views(ws.file('every-delivery.jsonl'))).toBe(3);
    const once = concord(['replay', '--pipeline', 'page_views_per_minute', '--input', archive, '--output', ws.file('once.jsonl'), '--dedupe']);
    expect(once.code).toBe(0);
    expect(views(ws.file('once.jsonl'))).toBe(2);
  });

  it('stream of a windowed pipeline whose where kept no event says so, with the conditions (it said "0 results written" alone)', () => {
    const defs = ws.file('kept-none.definitions.json', [{
      schemas: { views: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', url: 'string' } } },
      pipelines: {
        nowhere: { input: 'views', where: [['url', 'in', ['/b', '/c']], ['ts', '>=', 0]], key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
        somewhere: { input: 'views', where: [['url', '=', '/a']], key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
      },
    }]);
    const input = ws.file('kept-none.jsonl', [{ id: 'e1', ts: 1_000, url: '/a' }, { id: 'e2', ts: 2_000, url: '/a' }]);
    const none = concord(['stream', '--definitions', defs, '--pipeline', 'nowhere', '--input', input, '--output', ws.file('kept-none.out.jsonl')]);
    expect(none.code).toBe(0);
    expect(none.stderr.trim().split('\n').at(-1)).toBe('  its "where" kept none of the 2 events: [["url","in",["/b","/c"]],["ts",">=","1970-01-01T00:00:00.000Z"]]; check its values against the events\' (every condition must hold)');
    const some = concord(['stream', '--definitions', defs, '--pipeline', 'somewhere', '--input', input, '--output', ws.file('kept-some.out.jsonl')]);
    expect(some.stderr).not.toContain('kept none');
  });

  it('stream counts lines read in its progress and events in its summary', () => {
    const r = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', events, '--output', ws.file('out.jsonl'), '--allowed-lateness', '0', '--max-out-of-orderness', '0']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^stream page_views_per_minute 3 lines read( \(\S+\/s\))?, 1 rejected, 0 late$/);
    expect(lines[1]).toMatch(/^page_views_per_minute: 1 events, 1 results written \(changelog\), 0 late, 1 rejected/);
    // The third line is blank: neither an event nor a dead letter, and said (it was in no count).
    expect(lines[1]).toMatch(/; 1 blank lines skipped$/);
    // Why a line was rejected, without --dead-letter (a run that rejected every line said no reason).
    expect(lines[2]).toMatch(/^  first rejected: file:events\.jsonl offset \d+: .*JSON/);
  });

  it('stream of a hopping pipeline counts, beside the events late for all their windows, each time a window skipped a late event (an event late for its older window only was skipped there without a word)', () => {
    const defs = ws.file('hopping-late.definitions.json', [{
      schemas: { views: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', url: 'string' } } },
      pipelines: { views_2m: { input: 'views', key: 'url', window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' } } },
    }]);
    // B = L = 0. After e2 (2:30) W is 2:29.999: e3 (1:10) is late for [0:00, 2:00) only and counted in
    // [1:00, 3:00); e4 (0:10) is late for both of its windows [-1:00, 1:00) and [0:00, 2:00): the late output.
    const input = ws.file('hopping-late.jsonl', [
      { id: 'e1', ts: 0, url: '/a' }, { id: 'e2', ts: 150_000, url: '/a' }, { id: 'e3', ts: 70_000, url: '/a' }, { id: 'e4', ts: 10_000, url: '/a' },
    ]);
    const late = ws.file('hopping-late.late.jsonl');
    const r = concord(['stream', '--definitions', defs, '--pipeline', 'views_2m', '--input', input, '--output', ws.file('hopping-late.out.jsonl'),
      '--late-output', late, '--max-out-of-orderness', '0', '--allowed-lateness', '0']);
    expect(r.code, r.stderr).toBe(0);
    // The summary line keeps its wording (", 1 late, 0 rejected"); the skips are a line of their own.
    expect(r.stderr).toMatch(/^views_2m: 4 events, \d+ results written \(changelog\), 1 late, 0 rejected/m);
    expect(r.stderr).toContain('\n  late for some windows: a hopping window skipped a late event 3 times (an event late for some of its windows only is counted in the others, and not in "late")\n');
    expect(readFileSync(late, 'utf8').trim().split('\n')).toHaveLength(1);
    // Tumbling windows: each late event skips its one window, the late count says it all.
    const tumbling = concord(['stream', '--pipeline', 'page_views_per_minute', '--input', events, '--output', ws.file('tumbling.out.jsonl')]);
    expect(tumbling.stderr).not.toContain('hopping window');
  });

  it('stream of events whose required field\'s path is misspelt: the summary counts the dead letters per reason and warns (still exit 0)', () => {
    const defs = ws.file('typo.definitions.json', [{
      schemas: { views: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', user_id: 'string' }, paths: { user_id: 'usr.id' } } },
      pipelines: { views_1m: { input: 'views', key: 'user_id', window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
    }]);
    const input = ws.file('nested.jsonl', [
      ...Array.from({ length: 30 }, (_, i) => ({ id: `e${i}`, ts: i * 1000, user: { id: `u${i % 3}` } })),
      { id: 'ok', ts: 1, usr: { id: 'u1' } }, 'not json',
    ]);
    const r = concord(['stream', '--definitions', defs, '--pipeline', 'views_1m', '--input', input, '--output', ws.file('typo-out.jsonl')]);
    expect(r.code, r.stderr).toBe(0);
    const reason = 'user_id: is required (nor at "usr.id": no "usr" in the event)';
    expect(r.stderr).toContain(`  rejected by reason: 30 ${reason}; 1 malformed JSON: `);
    expect(r.stderr).toContain(`!! 31 of 32 lines (97%) of schema views went to the dead letters, 30 of them for: ${reason}. ` +
      'Check the schema\'s fields, paths and aliases against the events (`concord explain --pipeline views_1m`');
  });

  it('explain --pipeline all prints each pipeline\'s plan in turn, as explained one by one (it was refused as an unknown pipeline)', () => {
    const all = concord(['explain', '--pipeline', 'all']);
    expect(all.code, all.stderr).toBe(0);
    const each = ['page_views_per_minute', 'unique_visitors_5m', 'fraud_multi_country'].map((p) => concord(['explain', '--pipeline', p]).stdout.trimEnd());
    expect(all.stdout).toBe(`${each.join(`\n\n${'='.repeat(72)}\n\n`)}\n`);
  });

  it('archive prints its final progress line once', () => {
    const r = concord(['archive', '--schema', 'clicks', '--input', events, '--dir', join(ws.dir, 'archive')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('archive clicks '))).toHaveLength(1);
    expect(r.stderr).toMatch(/archived 1 clicks events into 1 Parquet files, 1 rejected/);
  });

  it('a closed stdout pipe ends the command quietly (as SIGPIPE ends a Unix tool), for every format', () => {
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', events, '--output', ws.file('s.jsonl'), '--store', store]).code).toBe(0);
    for (const format of ['json', 'csv', 'md']) {
      // The reader closes its end at once, so every write of the report meets a closed pipe.
      const cmd = `"${process.execPath}" --import tsx cli/main.ts report --date 1970-01-01 --store ${store} --format ${format} --pipeline page_views_per_minute | { exec 0<&-; sleep 2; }; echo "exit \${PIPESTATUS[0]}" >&2`;
      const r = spawnSync('bash', ['-c', cmd], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr, format).not.toMatch(/EPIPE|Unhandled|node:events|\n {4}at /);
      expect(r.stderr.trim().split('\n').at(-1), format).toBe('exit 141');
    }
  });

  it('a generator count or seed that is no number names the flag and the text given, before any work', () => {
    const dir = join(ws.dir, 'demo-bad-count');
    const clicks = concord(['demo', '--dir', dir, '--clicks', '1e3x']);
    expect(clicks.code).toBe(2);
    expect(clicks.stderr).toBe('concord demo: --clicks must be a whole number, 0 or more, got 1e3x\n');
    const seed = concord(['demo', '--dir', dir, '--seed', 'abc']);
    expect(seed.stderr).toBe('concord demo: --seed must be a number, got abc\n');
    const rings = concord(['produce', '--schema', 'transactions', '--count', '10', '--fraud-rings', 'five'], { CONCORD_TOPIC_PREFIX: 'msg-' });
    expect(rings.code).toBe(2);
    expect(rings.stderr).toBe('concord produce: --fraud-rings must be a whole number, 0 or more, got five\n');
  });
});
