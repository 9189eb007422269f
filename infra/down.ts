/** `npm run infra:down`: stops only what `infra:up` started (pid files under .infra/). */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { infraSettings, projectRoot } from './settings.ts';

const say = (text: string) => process.stderr.write(`infra: ${text}\n`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stop(name: string, pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    say(`stopped ${name} (pid ${pid})`);
  }
  rmSync(pidFile, { force: true });
}

const s = infraSettings();
await stop('Kafka', join(s.dataDir, 'kafka.pid'));
const redisMarker = join(projectRoot, '.infra', 'redis.started');
if (existsSync(redisMarker)) {
  await stop('Redis', readFileSync(redisMarker, 'utf8').trim());
  rmSync(redisMarker, { force: true });
}
