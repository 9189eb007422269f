/**
 * PostgreSQL for the result store (several processes at once). `infra:up` makes sure it answers at
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). It is a system service, so it is
 * never stopped by `infra:down`: when it does not answer, running as root on Debian, the local cluster
 * is started (pg_ctlcluster; installed with apt-get if missing) and the database created; otherwise the
 * exact commands to run are printed.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function answers(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function run(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

export async function ensurePostgres(say: (text: string) => void, url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL): Promise<void> {
  const target = new URL(url);
  const local = ['127.0.0.1', 'localhost', '::1'].includes(target.hostname);
  let problem = await answers(url);
  if (problem === null) {
    say(`PostgreSQL answers at ${target.host}${target.pathname}: reusing it`);
    return;
  }
  const database = target.pathname.replace(/^\//, '') || 'postgres';
  const fix = `start PostgreSQL (\`pg_ctlcluster <version> main start\` or \`service postgresql start\`; install: \`apt-get install postgresql\`), ` +
    `create the database (\`su postgres -c "createdb ${database}"\`), or set DATABASE_URL`;
  if (!local || process.getuid?.() !== 0) throw new Error(`PostgreSQL does not answer at ${target.host}${target.pathname} (${problem}): ${fix}`);
  if (/database .* does not exist/.test(problem)) {
    say(`creating database ${database}`);
    run('su', ['postgres', '-c', `createdb ${database}`]);
  } else {
    if (!run('sh', ['-c', 'command -v pg_ctlcluster'])) {
      say('PostgreSQL is not installed: apt-get install postgresql (this takes a minute)');
      if (!run('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql'])) throw new Error(`installing PostgreSQL failed: ${fix}`);
    }
    say('starting the local PostgreSQL cluster');
    const clusters = spawnSync('pg_lsclusters', ['-h'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/));
    for (const [version, name] of clusters) if (version && name) run('pg_ctlcluster', [version, name, 'start']);
    if (clusters.length === 0) run('service', ['postgresql', 'start']);
    for (let i = 0; i < 50 && (problem = await answers(url)) !== null && !/does not exist/.test(problem); i++) await new Promise((r) => setTimeout(r, 200));
    if (problem !== null && /database .* does not exist/.test(problem)) run('su', ['postgres', '-c', `createdb ${database}`]);
  }
  problem = await answers(url);
  if (problem !== null) throw new Error(`PostgreSQL still does not answer at ${target.host}${target.pathname} (${problem}): ${fix}`);
  say(`PostgreSQL answers at ${target.host}${target.pathname}`);
}
