/**
 * `npx tsx bench/cli-startup.ts [--runs 10]` (after `npm run build`): how long the compiled bin takes to
 * print `concord --help`, next to a bare `node -e 0` in the same run (the floor: Node's own start-up).
 * Median of N runs each, spawned one at a time with the same Node (this process's, the repo's Node 24).
 * Also times `concord validate --help` (loads one command module) and, for comparison, the dev path
 * `tsx cli/main.ts --help`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opt } = parseArgs({ options: { runs: { type: 'string' }, budget: { type: 'string' } } });
const runs = Number(opt.runs ?? 10);
const budgetMs = Number(opt.budget ?? 300);
const bin = 'dist/cli/main.js';
if (!existsSync(`${root}/${bin}`)) {
  process.stderr.write(`${bin} does not exist: run \`npm run build\` first\n`);
  process.exit(2);
}

function medianMs(args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}

const rows: [string, number][] = [
  ['node -e 0 (Node start-up, the floor)', medianMs(['-e', '0'])],
  [`node ${bin} --help`, medianMs([bin, '--help'])],
  [`node ${bin} validate --help`, medianMs([bin, 'validate', '--help'])],
  ['tsx cli/main.ts --help (dev, for comparison)', medianMs(['--import', 'tsx', 'cli/main.ts', '--help'])],
];
process.stdout.write(`CLI start-up, median of ${runs} runs each (Node ${process.version}):\n`);
for (const [what, ms] of rows) process.stdout.write(`  ${what.padEnd(48)} ${ms.toFixed(0).padStart(5)} ms\n`);
const help = rows[1]![1], floor = rows[0]![1];
process.stdout.write(`concord --help: ${help.toFixed(0)} ms, ${(help - floor).toFixed(0)} ms above node -e 0; budget ${budgetMs} ms: ${help <= budgetMs ? 'OK' : 'OVER'}\n`);
process.exitCode = help <= budgetMs ? 0 : 1;
