/**
 * `npm run infra:down`: stops only what `infra:up` started (pid and owner files under .infra/, see
 * infra/state.ts); a broker or Redis that was already running is left alone.
 *
 * - Run by a test run (env CONCORD_INFRA_LEASE, set by infra/test-with-infra.sh): drops that run's
 *   lease and stops what test runs started, unless another test run still holds a lease (the last one
 *   to finish stops them). A service started by a manual `infra:up` is left running.
 * - Run by hand: stops everything infra:up started; refuses while a test run is using it (`--force`).
 * - `--clean`: afterwards removes the broker's data (log.dirs), so the next `infra:up` formats anew.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaApiVersions } from './probes.ts';
import { infraSettings } from './settings.ts';
import { alive, dropLease, forget, kafkaService, leaseId, liveLeases, ownerOf, redisService, runningPid, type Service } from './state.ts';

const say = (text: string) => process.stderr.write(`infra: ${text}\n`);
const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!['--force', '--clean'].includes(a)) {
    process.stderr.write(`infra:down: unknown option ${a} (options: --force, --clean)\n`);
    process.exit(2);
  }
}

async function stop(service: Service): Promise<void> {
  const pid = runningPid(service);
  if (pid !== null) {
    process.kill(pid, 'SIGTERM');
    // Kafka shuts down cleanly in a few seconds (it closes its logs); a hung one is killed after 60 s.
    const deadline = Date.now() + 60_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (alive(pid)) {
      process.kill(pid, 'SIGKILL');
      say(`${service.name} (pid ${pid}) did not stop within 60 s of SIGTERM: killed it`);
    } else {
      say(`stopped ${service.name} (pid ${pid})`);
    }
  }
  forget(service);
}

try {
  const s = infraSettings();
  const services = [kafkaService(s), redisService(s)];
  const lease = leaseId();
  if (lease) dropLease(s, lease);
  const others = liveLeases(s);
  if (lease) {
    if (others.length > 0) {
      say(`other test runs still use the infrastructure (pids ${others.join(', ')}): leaving it running for them`);
    } else {
      for (const service of services) if (ownerOf(service) === 'session') await stop(service);
    }
  } else {
    if (others.length > 0 && !args.has('--force')) {
      throw new Error(`test runs are using the infrastructure (pids ${others.join(', ')}): let them finish (the last one stops what test runs started), or pass --force`);
    }
    const ours = services.filter((service) => ownerOf(service) !== null);
    if (ours.length === 0) say('nothing to stop: infra:up started nothing that is still recorded (services it found running are not ours)');
    for (const service of ours) await stop(service);
  }
  if (args.has('--clean')) {
    const data = join(s.dataDir, 'data');
    const answering = await kafkaApiVersions(s.kafkaHost, s.kafkaPort, 1_000).then(() => true, () => false);
    if (runningPid(kafkaService(s)) !== null || answering) throw new Error(`a broker still runs on ${s.kafkaHost}:${s.kafkaPort}: not removing ${data}`);
    if (existsSync(data)) {
      rmSync(data, { recursive: true, force: true });
      say(`removed the broker's data ${data}: the next infra:up formats it anew`);
    }
  }
} catch (error) {
  process.stderr.write(`infra:down failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
