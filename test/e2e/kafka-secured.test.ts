import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infraSettings } from '../../infra/settings.ts';
import { TEST_SASL_PASSWORD, TEST_SASL_USER, TEST_STORE_PASSWORD, tlsFiles } from '../../infra/kafka-security.ts';
import { concord } from '../fixtures/cli.ts';
import { setScramPassword } from '../fixtures/scram-users.ts';
import { deleteTopic, topicsStartingWith } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A secured cluster as the broker of `npm run infra:up` offers it (infra/kafka-security.ts): SASL_SSL
// with SCRAM and mutual TLS, beside its PLAINTEXT listener. The same small seeded day through each gives
// the same results; wrong settings are the user's (exit 2) with the reason, and the password is never
// in any output or file.
const ws = tempWorkspace('concord-kafka-secured-');
afterAll(() => ws.cleanup());
const infra = infraSettings();
const tls = tlsFiles(infra);
const WRONG = `wrong-${randomUUID()}`;
const passwordFile = join(ws.dir, 'kafka-password');
writeFileSync(passwordFile, `${TEST_SASL_PASSWORD}\n`);

const plaintext = { KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? `127.0.0.1:${infra.kafkaPort}` };
const scram = {
  KAFKA_BROKERS: `127.0.0.1:${infra.saslSslPort}`, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: TEST_SASL_USER, KAFKA_SASL_PASSWORD_FILE: passwordFile, KAFKA_SSL_CA_LOCATION: tls.caPem,
};

/** The latest result per cell, as `results` exports it, without what depends on when it was computed. */
function resultsOf(env: Record<string, string>): string[] {
  const out = join(ws.dir, `results-${randomUUID().slice(0, 6)}.jsonl`);
  const r = concord(['results', '--output', out, '--pipeline', 'page_views_per_minute'], env);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(out, 'utf8').trim().split('\n').map((l) => {
    const { pipeline, window_start, url, views } = JSON.parse(l) as Record<string, unknown>;
    return JSON.stringify({ pipeline, window_start, url, views });
  }).sort();
}

function dayThrough(env: Record<string, string>) {
  const prefix = { CONCORD_TOPIC_PREFIX: `secured-${randomUUID().slice(0, 6)}.` };
  const outputs: string[] = [];
  const produce = concord(['produce', '--schema', 'clicks', '--count', '1500', '--seed', '5', '--date', '2026-11-23', '--late-fraction', '0'], { ...env, ...prefix });
  expect(produce.code, produce.stderr).toBe(0);
  const run = concord(['run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '2s'], { ...env, ...prefix });
  expect(run.code, run.stderr).toBe(0);
  outputs.push(produce.stdout, produce.stderr, run.stdout, run.stderr);
  return { results: resultsOf({ ...env, ...prefix }), outputs };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));
}

// Each case spawns the CLI a few times (~2-5 s each on a loaded 2-core machine).
describe('a secured Kafka (SASL_SSL with SCRAM, mutual TLS)', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    // A broker started before the secured listeners existed: said, not a wall of refused connections.
    const answering = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: infra.saslSslPort });
      socket.on('connect', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (!answering) throw new Error(`the infra broker has no SASL_SSL listener on 127.0.0.1:${infra.saslSslPort}: restart it (npm run infra:down && npm run infra:up)`);
  });

  it('produce + run over SASL_SSL with SCRAM-SHA-512 give the same results as over PLAINTEXT; the password is in no output', () => {
    const secured = dayThrough(scram);
    const open = dayThrough(plaintext);
    expect(secured.results.length).toBeGreaterThan(100);
    expect(secured.results).toEqual(open.results);
    for (const text of secured.outputs) expect(text).not.toContain(TEST_SASL_PASSWORD);
  });

  it('a wrong password: exit 2, "SASL authentication failed" with what to check, the password in no output or file', () => {
    const env = { ...scram, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: WRONG, CONCORD_TOPIC_PREFIX: `secured-${randomUUID().slice(0, 6)}.` };
    const dir = join(ws.dir, 'wrong-password');
    for (const args of [['run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '1s'], ['produce', '--schema', 'clicks', '--count', '10'],
      ['archive', '--from-kafka', '--schema', 'clicks', '--dir', dir, '--stop-when-idle', '1s']]) {
      const r = concord(args, env);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`concord ${args[0]}: SASL authentication failed for user "${TEST_SASL_USER}" (SCRAM-SHA-512) at ${scram.KAFKA_BROKERS}: check the user name ` +
        '(KAFKA_SASL_USERNAME) and the password (environment KAFKA_SASL_PASSWORD), and that the cluster has SCRAM-SHA-512 credentials for this user\n');
      expect(r.stdout + r.stderr).not.toContain(WRONG);
    }
    for (const file of filesUnder(ws.dir)) expect(readFileSync(file, 'utf8'), file).not.toContain(WRONG);
  });

  it('a broker certificate from a CA not given: exit 2, "certificate verify failed", saying to set KAFKA_SSL_CA_LOCATION', () => {
    const r = concord(['produce', '--schema', 'clicks', '--count', '10'], { ...scram, KAFKA_SSL_CA_LOCATION: '' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^concord produce: certificate verify failed for the broker at 127\.0\.0\.1:\d+ \(self[- ]signed certificate in certificate chain\): no CA is given/);
    expect(r.stderr).toContain('set KAFKA_SSL_CA_LOCATION to the PEM file of the CA that signed the broker\'s certificate');
  });

  it('a plaintext client at the TLS listener, a missing CA file: exit 2, saying what to set', () => {
    const plain = concord(['produce', '--schema', 'clicks', '--count', '10'], { KAFKA_BROKERS: scram.KAFKA_BROKERS });
    expect(plain.code, plain.stderr).toBe(2);
    expect(plain.stderr).toContain(`the broker at ${scram.KAFKA_BROKERS} speaks TLS but the security protocol is PLAINTEXT (KAFKA_SECURITY_PROTOCOL unset): set KAFKA_SECURITY_PROTOCOL to SSL or SASL_SSL`);
    const missing = concord(['produce', '--schema', 'clicks', '--count', '10'], { ...scram, KAFKA_SSL_CA_LOCATION: join(ws.dir, 'no-ca.pem') });
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toBe(`concord produce: environment KAFKA_SSL_CA_LOCATION: cannot read ${join(ws.dir, 'no-ca.pem')} (no such file): give the path of the PEM file of the CA that signed the broker's certificate\n`);
  });

  it('mutual TLS from the config file: a client keystore is let in; without one the broker\'s refusal is said (exit 2)', () => {
    const prefix = { CONCORD_TOPIC_PREFIX: `secured-${randomUUID().slice(0, 6)}.` };
    const kafka = { 'security.protocol': 'SSL', 'ssl.ca.location': tls.caPem, 'ssl.keystore.location': tls.clientKeystore, 'ssl.keystore.password': TEST_STORE_PASSWORD };
    const config = ws.file('mtls.json', [{ kafka }]);
    const mtls = { KAFKA_BROKERS: `127.0.0.1:${infra.sslPort}` };
    const produced = concord(['produce', '--schema', 'clicks', '--count', '50', '--config', config], { ...mtls, ...prefix });
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stdout + produced.stderr).toContain('sent 50 clicks events');
    const without = ws.file('tls-only.json', [{ kafka: { 'security.protocol': 'SSL', 'ssl.ca.location': tls.caPem } }]);
    const refused = concord(['produce', '--schema', 'clicks', '--count', '50', '--config', without], { ...mtls, ...prefix });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain('took the connection and closed it');
    expect(refused.stderr).toContain('a client certificate (mutual TLS): set KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION, or KAFKA_SSL_KEYSTORE_LOCATION');
    // An archive of a file reads no Kafka settings: its --config would be ignored, so it is refused.
    const fileArchive = concord(['archive', '--schema', 'clicks', '--dir', join(ws.dir, 'file-archive'), '--input', config, '--config', config]);
    expect(fileArchive.code, fileArchive.stderr).toBe(2);
    expect(fileArchive.stderr).toBe('concord archive: --config: an option of --from-kafka, not of --input\n');
  });
  it('a password rotated under a running sink: at its next connection, exit 2 with "SASL authentication failed", not a silent retry', async () => {
    // Its own user (the shared one's password must not change); the connections dropped as a broker restart drops them.
    const user = `rotation-${randomUUID().slice(0, 8)}`;
    const [first, second] = [`first-${randomUUID()}`, `second-${randomUUID()}`];
    setScramPassword(infra, user, first);
    try {
      const flag = join(ws.dir, `drop-${user}`);
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sink', '--from-kafka', '--store', `duckdb:${join(ws.dir, `${user}.duckdb`)}`], {
        cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...scram, KAFKA_SASL_USERNAME: user, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: first,
          CONCORD_TOPIC_PREFIX: `secured-${user}.`, CONCORD_TEST_DROP_FLAG: flag,
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${resolve(import.meta.dirname, '../fixtures/drop-connections-on-flag.mjs')}` },
      });
      let stderr = '';
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      await new Promise<void>((ready) => child.stderr.on('data', (d) => { stderr += String(d); if (stderr.includes('sink: 0 results')) ready(); }));
      setScramPassword(infra, user, second);
      writeFileSync(flag, '');
      // Without the fix: the library retried the refusal as an outage (30 x 30 tries, ~15 min) and said nothing.
      const timer = setTimeout(() => child.kill(), 60_000);
      const code = await exited;
      clearTimeout(timer);
      expect(code, stderr).toBe(2);
      expect(stderr.trim().split('\n').at(-1)).toBe(`concord sink: SASL authentication failed for user "${user}" (SCRAM-SHA-512) at ${scram.KAFKA_BROKERS}: check the user name ` +
        '(KAFKA_SASL_USERNAME) and the password (environment KAFKA_SASL_PASSWORD), and that the cluster has SCRAM-SHA-512 credentials for this user');
      expect(stderr).not.toContain(first);
    } finally {
      setScramPassword(infra, user, null);
      for (const topic of await topicsStartingWith(`secured-${user}.`)) await deleteTopic(topic);
    }
  });
});
