import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The fault matrix's CI variant (`npm run chaos -- --quick`): real CLI processes on the script's own broker,
// Redis, PostgreSQL databases and archive mount, faults at seeded moments, compared with a fault-free run.
const root = fileURLToPath(new URL('../..', import.meta.url));
const FAULTS = [
  'worker SIGKILL', 'worker SIGSTOP past session timeout (zombie)', 'Kafka broker stop/start', 'archiver SIGKILL',
  'archive disk full', 'sink SIGKILL', 'Redis stop/start during the nightly job', 'PostgreSQL connections dropped during the day switch',
];

function runChaos(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/chaos.ts', '--quick'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The table's rows: fault -> its cells (times injected, recovered, lost, doubled, different, unexplained). */
function tableRows(stdout: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('| ') || line.startsWith('| fault ')) continue;
    const cells = line.slice(1, -1).split('|').map((c) => c.trim());
    rows.set(cells[0]!, cells.slice(1));
  }
  return rows;
}

describe('npm run chaos -- --quick', () => {
  it('injects every fault, recovers from each, and loses, doubles or leaves unexplained nothing', async () => {
    const r = await runChaos();
    const rows = tableRows(r.stdout);
    expect([...rows.keys()].filter((k) => FAULTS.includes(k)).sort(), r.stdout + r.stderr.slice(-12_000)).toEqual([...FAULTS].sort());
    for (const fault of FAULTS) {
      const [injected, recovered, lost, doubled, , unexplained] = rows.get(fault)!;
      const why = `${fault}: ${rows.get(fault)!.join(' | ')}\n${r.stdout}`;
      // The disk row is skipped (and says why) only when the run cannot mount a tmpfs (not root).
      if (fault === 'archive disk full' && process.getuid?.() !== 0) continue;
      expect(Number(injected), why).toBeGreaterThanOrEqual(1);
      expect(recovered, why).toBe('yes');
      expect({ lost: Number(lost), doubled: Number(doubled), unexplained: Number(unexplained) }, why).toEqual({ lost: 0, doubled: 0, unexplained: 0 });
    }
    expect(r.code, r.stdout + r.stderr.slice(-12_000)).toBe(0);
    expect(r.stdout).toMatch(/^chaos: ok$/m);
  }, 900_000);
});
