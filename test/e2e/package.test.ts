import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

/**
 * Concord as a team installs it: `npm pack` (prepack builds dist/), the tarball installed into a fresh
 * project that holds only a definitions module and events, and `npx concord ...` run there.
 *
 * Node: every child process runs under this repo's Node 24 (node_modules/.bin/node, put first on PATH
 * through a bin directory holding only `node`), not whatever `node` the machine has. The user's
 * concord.definitions.ts is loaded by that Node itself (type stripping, Node >= 22.18): no tsx, no
 * TypeScript at run time. The repo's own node_modules/.bin is taken off PATH so nothing of the dev setup
 * (tsx, tsc) can leak into what the installed bin does.
 *
 * Slow: the install downloads Concord's dependencies (DuckDB's native package is large) unless npm's
 * cache has them (--prefer-offline).
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-package-');
const project = join(ws.dir, 'project');
const binDir = join(ws.dir, 'bin');
let env: NodeJS.ProcessEnv = {};

afterAll(() => ws.cleanup());

interface Run { code: number; stdout: string; stderr: string }

function run(command: string, args: string[], cwd: string, timeout = 120_000): Run {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `npx concord ARGS` in the user's project: `--no` (never download a package named concord) and `--`
 * (so npx passes `--help` and the other flags on to concord instead of reading them itself).
 */
const concord = (args: string[]) => run('npx', ['--no', '--', 'concord', ...args], project);
const inProject = (...parts: string[]) => join(project, ...parts);
const defs = ['--definitions', 'concord.definitions.ts'];
const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
const byWindowAndCity = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  `${String(a.window_start)} ${String(a.city)}`.localeCompare(`${String(b.window_start)} ${String(b.city)}`);

// A team's definitions module: typed by the package's own declarations, loaded as TypeScript by Node.
const definitionsModule = `import { defineDefinitions, definePipeline, defineSchema } from 'concord';

const rides = defineSchema({
  time: 'pickup_at', id: 'ride_id', key: 'driver_id',
  fields: {
    ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', city: 'string',
    fare: 'decimal(2)', passengers: 'int', distance_km: 'double?', shared: 'bool?', promo: 'string?',
  },
});

export default defineDefinitions({
  schemas: { rides },
  pipelines: {
    fares_per_city_15m: definePipeline({
      input: 'rides', where: [['passengers', '>=', 1], ['city', 'in', ['Lisbon', 'Porto']]], key: ['city'],
      window: { tumbling: '15m' },
      aggregates: {
        rides: 'count', revenue: ['sum', 'fare'], top_fare: ['max', 'fare'], avg_km: ['avg', 'distance_km'],
        drivers: ['count_distinct', 'driver_id'], riders_approx: ['approx_distinct', 'ride_id', 14],
      },
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    }),
    driver_burst: definePipeline({ input: 'rides', key: 'driver_id', rule: { within: '5m', count: true, more_than: 6, output: 'n' } }),
  },
});
`;

// The same module with a type error a team's editor (and tsc) must catch through the package's types.
const badlyTypedModule = definitionsModule.replace('more_than: 6', "more_than: 'six'");

const at = (hhmmss: string) => `2026-11-23T${hhmmss}Z`;
const ride = (id: string, time: string, driver: string, city: string, fare: number | string, passengers: number, extra: Record<string, unknown> = {}) =>
  ({ ride_id: id, pickup_at: at(time), driver_id: driver, city, fare, passengers, ...extra });

// In arrival (file) order. Windows of fares_per_city_15m (B = 30 s, L = 5 min):
//   08:00 Lisbon: r01 4.10 + r02 8.20 -> 2 rides, 12.3, top 8.2, avg km (3 + 5) / 2 = 4, 2 drivers
//                 (r04 has no passenger, r05 is in Faro: filtered; the bad line has 3 decimals: rejected)
//   08:00 Porto:  r03 7 + r06 3.35    -> 2 rides, 10.35, top 7, avg km 10 (r06 has none), 1 driver
//   08:15 Lisbon: r07 5.55            -> 1 ride, 5.55, avg km 2.5
// r08 (08:03, Lisbon, 1.00) arrives after r07 moved the watermark to 08:20:30 = end of 08:00 + L + 30 s:
// late beyond the allowed lateness. The stream drops it; the replay counts it (3 rides, 13.3, avg km 3,
// 3 drivers), and reconcile attributes that one difference to it. b1..b7: 7 rides of driver d7 within
// 6 s (Faro, so outside the fares pipeline): driver_burst alerts on the 7th (7 > 6).
const events: unknown[] = [
  ride('r01', '08:01:00', 'd1', 'Lisbon', '4.10', 1, { distance_km: 3.0 }),
  ride('r02', '08:05:00', 'd2', 'Lisbon', 8.2, 2, { distance_km: 5, shared: true }),
  ride('r03', '08:07:00', 'd3', 'Porto', 7, 1, { distance_km: 10 }),
  ride('bad', '08:02:00', 'd1', 'Lisbon', '1.234', 1),
  ride('r04', '08:09:00', 'd4', 'Lisbon', 0.5, 0),
  ride('r05', '08:10:00', 'd5', 'Faro', 9.99, 1),
  ride('r06', '08:12:00', 'd3', 'Porto', '3.35', 1, { promo: 'SUMMER' }),
  ride('r07', '08:21:00', 'd1', 'Lisbon', 5.55, 1, { distance_km: 2.5 }),
  ride('r08', '08:03:00', 'd9', 'Lisbon', '1.00', 1, { distance_km: 1 }),
  ...[1, 2, 3, 4, 5, 6, 7].map((i) => ride(`b${i}`, `08:22:0${i - 1}`, 'd7', 'Faro', 5, 1)),
];

const w0 = at('08:00:00.000'), w15 = at('08:15:00.000'), w30 = at('08:30:00.000');

beforeAll(() => {
  // PATH: a directory with only this repo's Node 24 first, then the machine's PATH without any
  // node_modules/.bin (npx vitest / npm test put the repo's first); npm and npx are the machine's,
  // running under that Node (their `#!/usr/bin/env node`). npm_* variables of an outer `npm test` go.
  mkdirSync(binDir);
  symlinkSync(realpathSync(join(repo, 'node_modules', '.bin', 'node')), join(binDir, 'node'));
  const path = [binDir, ...(process.env.PATH ?? '').split(delimiter).filter((p) => p !== '' && !p.includes(join('node_modules', '.bin')))];
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'CONCORD_DEFINITIONS' && k !== 'NODE_OPTIONS'));
  env.PATH = path.join(delimiter);
  env.CI = '1';

  const nodeVersion = run('node', ['--version'], repo);
  expect(nodeVersion.stdout.trim()).toMatch(/^v24\./);

  // Pack (prepack runs the build), then install the tarball into a project that has nothing else.
  const packDir = join(ws.dir, 'pack');
  mkdirSync(packDir);
  const pack = run('npm', ['pack', '--pack-destination', packDir], repo, 300_000);
  expect(pack.code, show(pack)).toBe(0);
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  expect(tarballs).toHaveLength(1);

  mkdirSync(project);
  writeFileSync(inProject('package.json'), `${JSON.stringify({ name: 'rides-analytics', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  writeFileSync(inProject('concord.definitions.ts'), definitionsModule);
  writeFileSync(inProject('events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(packDir, tarballs[0]!)], project, 540_000);
  expect(install.code, show(install)).toBe(0);
}, 600_000);

describe('concord installed from its npm package', () => {
  it('is compiled JavaScript with its runtime dependencies: no tsx, no TypeScript sources', () => {
    const installed = JSON.parse(readFileSync(inProject('node_modules', 'concord', 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    expect(Object.keys(installed.dependencies ?? {})).not.toContain('tsx');
    expect(Object.keys(installed.dependencies ?? {})).toEqual(expect.arrayContaining(['@duckdb/node-api']));
    expect(existsSync(inProject('node_modules', 'tsx'))).toBe(false);
    expect(existsSync(inProject('node_modules', 'typescript'))).toBe(false);
    expect(installed.bin).toEqual({ concord: 'dist/cli/main.js' });
    expect(existsSync(inProject('node_modules', '.bin', 'concord'))).toBe(true);
    const dist = inProject('node_modules', 'concord', 'dist');
    const files = readdirSync(dist, { recursive: true }).map(String);
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', join('cli', 'main.js'), join('examples', 'seed.definitions.json')]));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(existsSync(inProject('node_modules', 'concord', 'test'))).toBe(false);
  });

  it('concord --help exits 0 and lists the commands', () => {
    const r = concord(['--help']);
    expect(r.code, show(r)).toBe(0);
    for (const cmd of ['validate', 'stream', 'archive', 'replay', 'reconcile']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    const stream = concord(['stream', '--help']);
    expect(stream.code, show(stream)).toBe(0);
    expect(stream.stdout).toContain('--definitions');
  });

  it('types the definitions module through the package (tsc sees a wrong type)', () => {
    // The repo's TypeScript, pointed at the user's project: `import ... from 'concord'` resolves to
    // the package's dist/index.d.ts (the project itself installs no TypeScript).
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const tsconfig = (file: string) => JSON.stringify({
      compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: [file],
    });
    writeFileSync(inProject('tsconfig.good.json'), tsconfig('concord.definitions.ts'));
    const good = run('node', [tsc, '-p', 'tsconfig.good.json'], project);
    expect(good.code, show(good)).toBe(0);
    writeFileSync(inProject('badly-typed.definitions.ts'), badlyTypedModule);
    writeFileSync(inProject('tsconfig.bad.json'), tsconfig('badly-typed.definitions.ts'));
    const bad = run('node', [tsc, '-p', 'tsconfig.bad.json'], project);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/badly-typed\.definitions\.ts\(\d+,\d+\): error TS2322/);
  });

  it('validate: OK for the module; a bad file exits 2 naming every problem', () => {
    const ok = concord(['validate', ...defs]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toContain('1 schema, 2 pipelines');
    expect(ok.stdout).toMatch(/fares_per_city_15m\s+windowed\s+input rides/);
    expect(ok.stdout).toMatch(/driver_burst\s+rule\s+input rides/);

    writeFileSync(inProject('broken.definitions.json'), JSON.stringify({
      schemas: { rides: { time: 'pickup_at', id: 'ride_id', fields: { ride_id: 'string', pickup_at: 'timestamp', city: 'string' } } },
      pipelines: {
        by_city: { input: 'trips', key: 'city', window: { tumbling: '15m' }, aggregates: { rides: 'count' } },
        revenue: { input: 'rides', key: 'city', window: { tumbling: '15m' }, aggregates: { total: ['sum', 'city'] } },
      },
    }));
    const bad = concord(['validate', '--definitions', 'broken.definitions.json']);
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr).toMatch(/2 problems/);
    expect(bad.stderr).toContain('pipelines.by_city');
    expect(bad.stderr).toContain('pipelines.revenue');

    // Node's own loader does not say where a syntax error is; the message must (line 2 of the module here).
    writeFileSync(inProject('typo.definitions.ts'), definitionsModule.replace("\n\nconst rides", "\nconst rides: = 1;\nconst ridesSchema"));
    const typo = concord(['validate', '--definitions', 'typo.definitions.ts']);
    expect(typo.code, show(typo)).toBe(2);
    expect(typo.stderr).toMatch(/syntax error at .*typo\.definitions\.ts:2\b/);
  });

  it('stream: the final windows with exact decimal sums, the late ride on the side, the burst alert', () => {
    const r = concord(['stream', '--pipeline', 'fares_per_city_15m', '--input', 'events.jsonl', '--output', 'realtime.jsonl',
      '--late-output', 'late.jsonl', '--dead-letter', 'dlq.jsonl', '--final', ...defs]);
    expect(r.code, show(r)).toBe(0);
    const rows = jsonLines(readFileSync(inProject('realtime.jsonl'), 'utf8')).sort(byWindowAndCity);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ pipeline: 'fares_per_city_15m', window_start: w0, window_end: w15, city: 'Lisbon',
      rides: 2, revenue: 12.3, top_fare: 8.2, avg_km: 4, drivers: 2, riders_approx: 2 });
    expect(rows[1]).toMatchObject({ window_start: w0, window_end: w15, city: 'Porto', rides: 2, revenue: 10.35, top_fare: 7, avg_km: 10, drivers: 1, riders_approx: 2 });
    expect(rows[2]).toMatchObject({ window_start: w15, window_end: w30, city: 'Lisbon', rides: 1, revenue: 5.55, top_fare: 5.55, avg_km: 2.5, drivers: 1 });
    expect(jsonLines(readFileSync(inProject('late.jsonl'), 'utf8'))).toEqual([expect.objectContaining({
      pipeline: 'fares_per_city_15m', event: expect.objectContaining({ ride_id: 'r08', pickup_at: at('08:03:00.000') }), window_start: w0, window_end: w15,
    })]);
    const dead = jsonLines(readFileSync(inProject('dlq.jsonl'), 'utf8'));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ field: 'fare' });

    const burst = concord(['stream', '--pipeline', 'driver_burst', '--input', 'events.jsonl', '--output', 'alerts.jsonl', ...defs]);
    expect(burst.code, show(burst)).toBe(0);
    expect(jsonLines(readFileSync(inProject('alerts.jsonl'), 'utf8'))).toEqual([
      expect.objectContaining({ pipeline: 'driver_burst', driver_id: 'd7', ride_id: 'b7', n: 7 }),
    ]);
  });

  it('archive -> replay: the complete data, the late ride included', () => {
    const a = concord(['archive', '--schema', 'rides', '--input', 'events.jsonl', '--dir', 'archive', ...defs]);
    expect(a.code, show(a)).toBe(0);
    expect(a.stderr).toMatch(/archived 15 rides events into \d+ Parquet files?, 1 rejected/);
    const parquet = readdirSync(inProject('archive'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet'));
    expect(parquet.length).toBeGreaterThan(0);
    expect(parquet.every((f) => f.includes('dt=2026-11-23'))).toBe(true);

    const r = concord(['replay', '--pipeline', 'fares_per_city_15m', '--input', 'archive', '--output', 'replay.jsonl', ...defs]);
    expect(r.code, show(r)).toBe(0);
    const rows = jsonLines(readFileSync(inProject('replay.jsonl'), 'utf8')).sort(byWindowAndCity);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ window_start: w0, city: 'Lisbon', rides: 3, revenue: 13.3, top_fare: 8.2, avg_km: 3, drivers: 3, riders_approx: 3 });
    expect(rows[1]).toMatchObject({ window_start: w0, city: 'Porto', rides: 2, revenue: 10.35, top_fare: 7, avg_km: 10, drivers: 1, riders_approx: 2 });
    expect(rows[2]).toMatchObject({ window_start: w15, city: 'Lisbon', rides: 1, revenue: 5.55, avg_km: 2.5 });
  });

  it('reconcile: one difference, attributed to the late ride', () => {
    const r = concord(['reconcile', '--pipeline', 'fares_per_city_15m', '--realtime', 'realtime.jsonl', '--archive', 'archive', '--output', 'report.json', ...defs]);
    expect(r.code, show(r)).toBe(0);
    const report = JSON.parse(readFileSync(inProject('report.json'), 'utf8')) as { differences: unknown[] };
    expect(report).toMatchObject({ cells: 3, equal: 2, different: 1, unexplained: 0, causes: { late_beyond_lateness: 1 } });
    expect(report.differences).toHaveLength(1);
    expect(report.differences[0]).toMatchObject({
      cell: { window_start: w0, city: 'Lisbon' },
      realtime: { rides: 2, revenue: 12.3 },
      replay: { rides: 3, revenue: 13.3 },
      cause: 'late_beyond_lateness',
      late_events: [expect.objectContaining({ id: 'r08' })],
    });
  });
});
