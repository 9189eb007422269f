/**
 * The infra broker's secured listeners, beside its PLAINTEXT one, so Concord's TLS and SASL settings
 * (stream/kafka/security.ts) are tried against a real broker: SASL_SSL (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512) and SSL with a required client certificate (mutual TLS). The test CA, the broker's
 * keystore and a client keystore are made with the JDK's keytool (no openssl needed) once per data dir,
 * in `<KAFKA_DATA_DIR>/tls`. The credentials are test-only and said in docs/operations.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InfraSettings } from './settings.ts';

/** The test user the SASL_SSL listener knows (PLAIN from the broker's config, SCRAM from the cluster metadata). */
export const TEST_SASL_USER = 'concord';
export const TEST_SASL_PASSWORD = 'concord-test-secret';
/** The password of the generated PKCS12 keystores (broker, truststore, client). */
export const TEST_STORE_PASSWORD = 'concord-test-store';

/** Where the generated files are: the CA a client trusts (PEM) and a client keystore for mutual TLS (PKCS12). */
export function tlsFiles(s: InfraSettings): { dir: string; caPem: string; brokerKeystore: string; truststore: string; clientKeystore: string } {
  const dir = join(s.dataDir, 'tls');
  return { dir, caPem: join(dir, 'ca.pem'), brokerKeystore: join(dir, 'broker.p12'), truststore: join(dir, 'truststore.p12'), clientKeystore: join(dir, 'client.p12') };
}

const keytoolBin = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool';

function keytool(args: string[], dir: string): void {
  const r = spawnSync(keytoolBin, args, { cwd: dir, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`${keytoolBin} ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout || '').trim()} ` +
      '(keytool comes with the Java runtime the broker needs; set JAVA_HOME to a Java 17+ install)');
  }
}

/** A key pair in `store` signed by the CA in ca.p12, its chain imported (and the CA trusted) beside it. */
function signedKeystore(dir: string, alias: string, store: string, ext: string[]): void {
  const pw = TEST_STORE_PASSWORD;
  keytool(['-genkeypair', '-alias', alias, '-dname', `CN=${alias === 'broker' ? 'localhost' : 'concord-client'}`, '-keyalg', 'RSA', '-keysize', '2048',
    '-validity', '3650', '-keystore', store, '-storetype', 'PKCS12', '-storepass', pw, '-keypass', pw], dir);
  keytool(['-certreq', '-alias', alias, '-keystore', store, '-storepass', pw, '-file', `${alias}.csr`], dir);
  keytool(['-gencert', '-alias', 'ca', '-keystore', 'ca.p12', '-storepass', pw, '-infile', `${alias}.csr`, '-outfile', `${alias}.pem`, '-rfc', '-validity', '3650', ...ext], dir);
  keytool(['-importcert', '-alias', 'ca', '-file', 'ca.pem', '-keystore', store, '-storepass', pw, '-noprompt'], dir);
  keytool(['-importcert', '-alias', alias, '-file', `${alias}.pem`, '-keystore', store, '-storepass', pw, '-noprompt'], dir);
}

/**
 * Makes the test CA, the broker's keystore (a certificate for localhost and 127.0.0.1), its truststore
 * and a client keystore, unless a complete set is there. Made in a staging dir and renamed: never half a set.
 */
export function ensureTlsFiles(s: InfraSettings, say: (text: string) => void): void {
  const f = tlsFiles(s);
  if (existsSync(join(f.dir, '.complete'))) return;
  const staging = `${f.dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const pw = TEST_STORE_PASSWORD;
  keytool(['-genkeypair', '-alias', 'ca', '-dname', 'CN=Concord test CA', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '3650',
    '-ext', 'bc:c', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', pw, '-keypass', pw], staging);
  keytool(['-exportcert', '-rfc', '-alias', 'ca', '-keystore', 'ca.p12', '-storepass', pw, '-file', 'ca.pem'], staging);
  keytool(['-importcert', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'truststore.p12', '-storetype', 'PKCS12', '-storepass', pw, '-noprompt'], staging);
  signedKeystore(staging, 'broker', 'broker.p12', ['-ext', 'SAN=dns:localhost,ip:127.0.0.1', '-ext', 'EKU=serverAuth']);
  signedKeystore(staging, 'client', 'client.p12', ['-ext', 'EKU=clientAuth']);
  writeFileSync(join(staging, '.complete'), new Date().toISOString());
  mkdirSync(dirname(f.dir), { recursive: true });
  rmSync(f.dir, { recursive: true, force: true });
  renameSync(staging, f.dir);
  say(`made a test CA and broker/client keystores with keytool in ${f.dir}`);
}

/** The listeners beside PLAINTEXT and CONTROLLER, as server.properties lines. */
export function securedListenerProperties(s: InfraSettings): { listeners: string[]; protocolMap: string[]; lines: string[] } {
  const f = tlsFiles(s);
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return {
    listeners: [`SASL_SSL://127.0.0.1:${s.saslSslPort}`, `SSL://127.0.0.1:${s.sslPort}`],
    protocolMap: ['SASL_SSL:SASL_SSL', 'SSL:SSL'],
    lines: [
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${TEST_SASL_USER}="${TEST_SASL_PASSWORD}";`,
      `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${scram}`,
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scram}`,
      'ssl.keystore.type=PKCS12', `ssl.keystore.location=${f.brokerKeystore}`, `ssl.keystore.password=${TEST_STORE_PASSWORD}`, `ssl.key.password=${TEST_STORE_PASSWORD}`,
      'ssl.truststore.type=PKCS12', `ssl.truststore.location=${f.truststore}`, `ssl.truststore.password=${TEST_STORE_PASSWORD}`,
      // The SSL listener is the mutual-TLS one; SASL_SSL authenticates by SASL, not by certificate.
      'listener.name.ssl.ssl.client.auth=required',
    ],
  };
}

const SCRAM = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
const scramMarker = (s: InfraSettings) => join(s.dataDir, 'data', '.scram-users');

/** StorageTool format's arguments that store the test user's SCRAM credentials in a new cluster's metadata. */
export function scramFormatArgs(): string[] {
  return SCRAM.flatMap((m) => ['--add-scram', `${m}=[name=${TEST_SASL_USER},password=${TEST_SASL_PASSWORD}]`]);
}

/** Says the credentials are in the cluster (a data dir just formatted with scramFormatArgs). */
export function markScramUser(s: InfraSettings): void {
  writeFileSync(scramMarker(s), `${TEST_SASL_USER}\n`);
}

/**
 * The test user's SCRAM credentials in a data dir formatted before the SASL_SSL listener existed: written
 * through the PLAINTEXT listener (AlterUserScramCredentials, as `kafka-configs.sh` does; one mechanism per
 * request, the broker refuses two for one user), once: the marker file says they are there.
 */
export function ensureScramUser(s: InfraSettings, java: string, javaArgs: (args: string[]) => string[], say: (text: string) => void): void {
  if (existsSync(scramMarker(s))) return;
  for (const mechanism of SCRAM) {
    const r = spawnSync(java, javaArgs(['kafka.admin.ConfigCommand', '--bootstrap-server', `${s.kafkaHost}:${s.kafkaPort}`, '--alter',
      '--add-config', `${mechanism}=[iterations=4096,password=${TEST_SASL_PASSWORD}]`, '--entity-type', 'users', '--entity-name', TEST_SASL_USER]), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`adding the ${mechanism} credentials of test user ${TEST_SASL_USER} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  }
  markScramUser(s);
  say(`added SCRAM-SHA-256/512 credentials for test user ${TEST_SASL_USER} (SASL_SSL on 127.0.0.1:${s.saslSslPort})`);
}
