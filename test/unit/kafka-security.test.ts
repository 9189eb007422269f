import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { loadKafkaSecurity, Secret, securityOptions } from '../../stream/kafka/security.ts';
import { AuthenticationError } from '@platformatic/kafka';
import { closedByBroker, settingsRefused } from '../../stream/kafka/security-failure.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The settings a secured cluster needs, checked before any connection (the broker side is in
// test/e2e/kafka-secured.test.ts): every contradiction or missing file is a ConfigError naming the
// setting and what to do, and the password never prints.
const ws = tempWorkspace('concord-kafka-security-');
afterAll(() => ws.cleanup());
const PASSWORD = 'pa55-never-printed';
const sasl = { KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'alice' };

function refused(env: NodeJS.ProcessEnv): string {
  try {
    loadKafkaSecurity(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('not refused');
}

describe('Kafka security settings', () => {
  it('nothing set: PLAINTEXT, and the client gets no tls or sasl options', () => {
    const s = loadKafkaSecurity({});
    expect(s.protocol).toBe('PLAINTEXT');
    expect(securityOptions(s)).toEqual({});
  });

  it('SASL from the environment: the password from a file (its trailing line break dropped), handed to the client as a function', () => {
    const file = join(ws.dir, 'password');
    writeFileSync(file, `${PASSWORD}\n`);
    const s = loadKafkaSecurity({ ...sasl, KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', KAFKA_SASL_PASSWORD_FILE: file });
    expect(s.protocol).toBe('SASL_PLAINTEXT');
    const options = securityOptions(s);
    expect(options.tls).toBeUndefined();
    expect(options.sasl?.mechanism).toBe('SCRAM-SHA-512');
    expect(options.sasl?.username).toBe('alice');
    expect(options.sasl?.password()).toBe(PASSWORD);
    // Whatever prints the settings or the client's options shows no password.
    for (const text of [JSON.stringify(s), inspect(s, { depth: 9 }), JSON.stringify(options), inspect(options, { depth: 9 }), `${s.sasl!.password}`]) {
      expect(text).not.toContain(PASSWORD);
    }
    expect(String(new Secret(PASSWORD))).toBe('[redacted]');
  });

  it('the config file\'s "kafka" object, the environment winning over it; an unknown key refused', () => {
    const config = ws.file('concord.json', [{ kafka: { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'PLAIN', 'sasl.username': 'bob', 'sasl.password': PASSWORD } }]);
    const fromFile = loadKafkaSecurity({ CONCORD_CONFIG: config });
    expect([fromFile.sasl?.mechanism, fromFile.sasl?.username]).toEqual(['PLAIN', 'bob']);
    const overridden = loadKafkaSecurity({ CONCORD_CONFIG: config, KAFKA_SASL_USERNAME: 'carol', KAFKA_SASL_PASSWORD: 'other' });
    expect([overridden.sasl?.username, overridden.sasl?.password.reveal()]).toEqual(['carol', 'other']);
    const typo = ws.file('typo.json', [{ kafka: { 'ssl.ca.file': 'ca.pem' } }]);
    expect(refused({ CONCORD_CONFIG: typo })).toMatch(/^config file .*typo\.json: kafka: unknown key "ssl\.ca\.file"; known keys: security\.protocol, /);
    // A client properties file's first key: it listed the security keys and said nothing of where the brokers go.
    const servers = ws.file('servers.json', [{ kafka: { 'bootstrap.servers': 'kafka-1:9092' } }]);
    expect(refused({ CONCORD_CONFIG: servers })).toMatch(/^config file .*servers\.json: kafka: "bootstrap\.servers" is not read from the config file: name the brokers with --brokers or env KAFKA_BROKERS$/);
  });

  it('refuses what does not fit together, naming the setting and what to set', () => {
    expect(refused({ KAFKA_SECURITY_PROTOCOL: 'TLS' })).toBe('environment KAFKA_SECURITY_PROTOCOL: "TLS" is no security protocol; accepted: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL');
    expect(refused({ KAFKA_SASL_USERNAME: 'alice' })).toBe('environment KAFKA_SASL_USERNAME is set but the security protocol is PLAINTEXT (KAFKA_SECURITY_PROTOCOL unset): SASL needs SASL_SSL or SASL_PLAINTEXT');
    expect(refused({ KAFKA_SSL_CA_LOCATION: 'ca.pem' })).toContain('TLS needs SSL or SASL_SSL');
    expect(refused({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toContain('no SASL mechanism is set: set KAFKA_SASL_MECHANISM to one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512');
    expect(refused({ ...sasl, KAFKA_SASL_MECHANISM: 'GSSAPI' })).toContain('"GSSAPI" is no SASL mechanism Concord speaks');
    expect(refused({ ...sasl })).toBe('SASL SCRAM-SHA-512 needs the password of user "alice": set KAFKA_SASL_PASSWORD_FILE (a file holding it) or KAFKA_SASL_PASSWORD');
    expect(refused({ ...sasl, KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: 'f' })).toContain('are both set: give the SASL password one way');
    // A misspelt variable would leave the connection unsecured in silence.
    expect(refused({ KAFKA_SSL_CA_FILE: 'ca.pem' })).toMatch(/^environment KAFKA_SSL_CA_FILE is no setting Concord reads; the Kafka security settings are KAFKA_SECURITY_PROTOCOL, /);
  });

  it('refuses a file it cannot use before connecting: missing, not PEM, a certificate without its key', () => {
    const tls = { KAFKA_SECURITY_PROTOCOL: 'SSL' };
    expect(refused({ ...tls, KAFKA_SSL_CA_LOCATION: join(ws.dir, 'nope.pem') }))
      .toBe(`environment KAFKA_SSL_CA_LOCATION: cannot read ${join(ws.dir, 'nope.pem')} (no such file): give the path of the PEM file of the CA that signed the broker's certificate`);
    const notPem = ws.file('truststore.jks', ['binary']);
    expect(refused({ ...tls, KAFKA_SSL_CA_LOCATION: notPem })).toContain('holds no PEM certificate: give the CA as PEM (from a Java truststore: keytool -exportcert -rfc');
    expect(refused({ ...tls, KAFKA_SSL_CERTIFICATE_LOCATION: notPem })).toContain('is set without KAFKA_SSL_KEY_LOCATION');
    expect(refused({ ...tls, KAFKA_SSL_KEYSTORE_LOCATION: notPem, KAFKA_SSL_KEYSTORE_PASSWORD: PASSWORD })).not.toContain(PASSWORD);
    expect(refused({ ...sasl, KAFKA_SASL_PASSWORD_FILE: join(ws.dir, 'missing-password') })).toContain('cannot read');
    expect(refused({ ...tls, KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM: 'off' })).toContain('is neither https');
  });

  it('a mutual-TLS listener closing on a client that gave a certificate: says it may have expired, not only "set SASL"', () => {
    // Measured: a keystore whose certificate had expired got only "Connection closed" from the broker (TLS 1.3).
    const security = { protocol: 'SSL' as const, protocolFrom: 'environment KAFKA_SECURITY_PROTOCOL', tls: { keystore: new Secret(Buffer.from('p12')), checkHostname: true } };
    const said = closedByBroker('Connection closed', ['b:9095'], security);
    expect(said).toContain('another client certificate: the one given (KAFKA_SSL_KEYSTORE_LOCATION) may have expired (check its dates: openssl x509 -noout -dates)');
    expect(said).not.toContain('a client certificate (mutual TLS): set');
  });
  // A running consumer ends its retries (exit 2) only on these: a broker restarting (a rolling upgrade)
  // cuts TLS handshakes short and closes connections too, and a worker must ride that out.
  it('a running consumer gives up on a refusal of its settings, not on a handshake cut short', () => {
    const coded = (message: string, code: string) => Object.assign(new Error(message), { code });
    for (const refused of [
      new AuthenticationError('SASL authentication failed.'), coded('certificate has expired', 'CERT_HAS_EXPIRED'),
      coded('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), new Error('tlsv13 alert certificate required'),
      new Error('Connection failed', { cause: new AuthenticationError('SASL authentication failed.') }),
    ]) expect(settingsRefused(refused), refused.message).toBe(true);
    for (const passing of [
      new Error('Client network socket disconnected before secure TLS connection was established'), coded('read ECONNRESET', 'ECONNRESET'),
      new Error('TLS handshake failed'), coded('connect ECONNREFUSED 127.0.0.1:9094', 'ECONNREFUSED'), new Error('Connection closed'),
    ]) expect(settingsRefused(passing), passing.message).toBe(false);
  });
});
