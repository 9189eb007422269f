/**
 * How every Kafka client of Concord connects to a secured cluster: TLS (the CA it trusts, an optional
 * client certificate for mutual TLS, the broker's host name checked) and SASL (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512). The settings are librdkafka's client properties (`security.protocol`, `sasl.mechanism`,
 * `ssl.ca.location`, ...), given in the environment as KAFKA_ + the name upper-cased with `.` as `_`,
 * or in the config file's "kafka" object; the environment wins (docs/operations.md). Checked and read
 * when the settings are made: a missing file or a contradiction is a ConfigError (exit 2) before any
 * connection. Secrets are held as `Secret`, which never prints.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { inspect } from 'node:util';
import { ConfigError } from '../../pipeline/errors.ts';

/** A password or a private key, kept out of logs, JSON, `util.inspect` and error messages: only `reveal()` gives it. */
export class Secret<T extends string | Buffer = string> {
  readonly #value: T;
  constructor(value: T) { this.#value = value; }
  reveal(): T { return this.#value; }
  toString(): string { return '[redacted]'; }
  toJSON(): string { return '[redacted]'; }
  [inspect.custom](): string { return '[redacted]'; }
}

export const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof PROTOCOLS)[number];
export const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof MECHANISMS)[number];

/** Each setting's property name (the config file's key) and its environment variable. */
export const SECURITY_PROPERTIES = {
  'security.protocol': 'KAFKA_SECURITY_PROTOCOL',
  'sasl.mechanism': 'KAFKA_SASL_MECHANISM',
  'sasl.username': 'KAFKA_SASL_USERNAME',
  'sasl.password': 'KAFKA_SASL_PASSWORD',
  'sasl.password.file': 'KAFKA_SASL_PASSWORD_FILE',
  'ssl.ca.location': 'KAFKA_SSL_CA_LOCATION',
  'ssl.certificate.location': 'KAFKA_SSL_CERTIFICATE_LOCATION',
  'ssl.key.location': 'KAFKA_SSL_KEY_LOCATION',
  'ssl.key.password': 'KAFKA_SSL_KEY_PASSWORD',
  'ssl.keystore.location': 'KAFKA_SSL_KEYSTORE_LOCATION',
  'ssl.keystore.password': 'KAFKA_SSL_KEYSTORE_PASSWORD',
  'ssl.endpoint.identification.algorithm': 'KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM',
} as const;
type Property = keyof typeof SECURITY_PROPERTIES;
const ENV_NAMES: readonly string[] = Object.values(SECURITY_PROPERTIES);

export interface KafkaSecurity {
  protocol: SecurityProtocol;
  sasl?: { mechanism: SaslMechanism; username: string; password: Secret; passwordFrom: string };
  tls?: {
    /** The CA file's contents; none: the system's trusted CAs (a public CA, as Confluent Cloud's). */
    ca?: Buffer; caFrom?: string;
    /** Mutual TLS: a PEM certificate and key, or a PKCS#12 keystore. */
    cert?: Buffer; key?: Secret<Buffer>; keyPassword?: Secret; keystore?: Secret<Buffer>; keystorePassword?: Secret;
    /** The broker's certificate must name the host connected to (default; `ssl.endpoint.identification.algorithm=none` turns it off). */
    checkHostname: boolean;
  };
  /** Where the protocol came from, for messages ("KAFKA_SECURITY_PROTOCOL", or the default). */
  protocolFrom: string;
}

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT', protocolFrom: 'KAFKA_SECURITY_PROTOCOL unset' };

/** One given value and where it was given, for messages. */
interface Given { value: string; where: string }

/**
 * The config file's "kafka" object (CONCORD_CONFIG; `--config FILE` sets it for Kafka commands, as
 * --brokers sets KAFKA_BROKERS), with the file's name; none: null.
 */
function configSection(env: NodeJS.ProcessEnv): { file: string; data: Record<string, unknown> } | null {
  const file = env.CONCORD_CONFIG;
  if (!file) return null;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const kafka = (data as Record<string, unknown> | null)?.kafka;
  if (kafka === undefined) return null;
  if (typeof kafka !== 'object' || kafka === null || Array.isArray(kafka)) {
    throw new ConfigError(`config file ${file}: kafka: expected an object of client properties like {"security.protocol": "SASL_SSL"}, got ${JSON.stringify(kafka)}`);
  }
  for (const key of Object.keys(kafka)) {
    // The first key a Kafka client's properties file holds: the brokers are a flag and a variable here.
    if (key === 'bootstrap.servers' || key === 'brokers') {
      throw new ConfigError(`config file ${file}: kafka: "${key}" is not read from the config file: name the brokers with --brokers or env KAFKA_BROKERS`);
    }
    if (!(key in SECURITY_PROPERTIES)) throw new ConfigError(`config file ${file}: kafka: unknown key "${key}"; known keys: ${Object.keys(SECURITY_PROPERTIES).join(', ')}`);
  }
  return { file, data: kafka as Record<string, unknown> };
}

/** Refuses a KAFKA_SASL_* / KAFKA_SSL_* / KAFKA_SECURITY_* variable Concord does not read: a misspelt one would leave the connection unsecured in silence. */
function checkEnvNames(env: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(env)) {
    if (/^KAFKA_(SASL|SSL|SECURITY)_/.test(name) && !ENV_NAMES.includes(name)) {
      throw new ConfigError(`environment ${name} is no setting Concord reads; the Kafka security settings are ${ENV_NAMES.join(', ')} (docs/operations.md)`);
    }
  }
}

function readFile(given: Given, what: string): Buffer {
  try {
    return readFileSync(given.value);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigError(`${given.where}: cannot read ${given.value} (${why}): give the path of ${what}`, { cause: error });
  }
}

/** The SASL password from the highest layer that gives one, inline or as a file (one layer giving both is refused). */
function password(env: NodeJS.ProcessEnv, config: ReturnType<typeof configSection>): { secret: Secret; from: string } | undefined {
  const layers: Array<{ inline?: Given; file?: Given }> = [
    { inline: fromEnv(env, 'sasl.password'), file: fromEnv(env, 'sasl.password.file') },
    { inline: fromConfig(config, 'sasl.password'), file: fromConfig(config, 'sasl.password.file') },
  ];
  for (const { inline, file } of layers) {
    if (inline && file) throw new ConfigError(`${inline.where} and ${file.where} are both set: give the SASL password one way`);
    if (inline) return { secret: new Secret(inline.value), from: inline.where };
    if (file) {
      // One trailing line break is the file's, not the password's (`echo secret > file`).
      const text = readFile(file, 'the file holding the SASL password').toString('utf8').replace(/\r?\n$/, '');
      if (text === '') throw new ConfigError(`${file.where} ${file.value} is empty: write the SASL password into it`);
      return { secret: new Secret(text), from: `${file.where} ${file.value}` };
    }
  }
  return undefined;
}

function fromEnv(env: NodeJS.ProcessEnv, p: Property): Given | undefined {
  const v = env[SECURITY_PROPERTIES[p]];
  return v === undefined || v === '' ? undefined : { value: v, where: `environment ${SECURITY_PROPERTIES[p]}` };
}

function fromConfig(config: ReturnType<typeof configSection>, p: Property): Given | undefined {
  const v = config?.data[p];
  if (v === undefined) return undefined;
  const where = `config file ${config!.file}: kafka.${p}`;
  if (typeof v !== 'string') throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(v)}`);
  return { value: v, where };
}

/**
 * The security settings from the environment and the config file, checked, with their files read.
 * Nothing set: PLAINTEXT, as a Kafka client's default.
 */
export function loadKafkaSecurity(env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  checkEnvNames(env);
  const config = configSection(env);
  const get = (p: Property) => fromEnv(env, p) ?? fromConfig(config, p);
  const protocolGiven = get('security.protocol');
  const protocol = (protocolGiven?.value.toUpperCase() ?? 'PLAINTEXT') as SecurityProtocol;
  if (!PROTOCOLS.includes(protocol)) throw new ConfigError(`${protocolGiven!.where}: "${protocolGiven!.value}" is no security protocol; accepted: ${PROTOCOLS.join(', ')}`);
  const protocolFrom = protocolGiven?.where ?? PLAINTEXT.protocolFrom;
  const usesSasl = protocol.startsWith('SASL_');
  const usesTls = protocol.endsWith('SSL');
  const given = (prefix: string) => (Object.keys(SECURITY_PROPERTIES) as Property[]).filter((p) => p.startsWith(prefix)).map(get).find((g) => g !== undefined);
  // A setting the protocol does not use is a contradiction, said now: left unused, a cluster that needs it answers "connection closed".
  const sasl = given('sasl.');
  if (sasl && !usesSasl) throw new ConfigError(`${sasl.where} is set but the security protocol is ${protocol} (${protocolFrom}): SASL needs ${usesTls ? 'SASL_SSL' : 'SASL_SSL or SASL_PLAINTEXT'}`);
  const ssl = given('ssl.');
  if (ssl && !usesTls) throw new ConfigError(`${ssl.where} is set but the security protocol is ${protocol} (${protocolFrom}): TLS needs SSL or SASL_SSL`);
  const security: KafkaSecurity = { protocol, protocolFrom };

  if (usesSasl) {
    const m = get('sasl.mechanism');
    const mechanisms = MECHANISMS.join(', ');
    if (!m) throw new ConfigError(`the security protocol is ${protocol} (${protocolFrom}) but no SASL mechanism is set: set KAFKA_SASL_MECHANISM to one of ${mechanisms}`);
    const mechanism = m.value.toUpperCase() as SaslMechanism;
    if (!MECHANISMS.includes(mechanism)) throw new ConfigError(`${m.where}: "${m.value}" is no SASL mechanism Concord speaks; accepted: ${mechanisms}`);
    const username = get('sasl.username');
    const pw = password(env, config);
    if (!username) throw new ConfigError(`SASL ${mechanism} needs a user name: set KAFKA_SASL_USERNAME`);
    if (!pw) throw new ConfigError(`SASL ${mechanism} needs the password of user "${username.value}": set KAFKA_SASL_PASSWORD_FILE (a file holding it) or KAFKA_SASL_PASSWORD`);
    security.sasl = { mechanism, username: username.value, password: pw.secret, passwordFrom: pw.from };
  }

  if (usesTls) {
    const algorithm = get('ssl.endpoint.identification.algorithm');
    if (algorithm && !['https', 'none'].includes(algorithm.value.toLowerCase())) {
      throw new ConfigError(`${algorithm.where}: "${algorithm.value}" is neither https (check the broker's host name, the default) nor none`);
    }
    const tls: NonNullable<KafkaSecurity['tls']> = { checkHostname: algorithm?.value.toLowerCase() !== 'none' };
    const ca = get('ssl.ca.location');
    if (ca) {
      tls.ca = readFile(ca, 'the PEM file of the CA that signed the broker\'s certificate');
      tls.caFrom = `${ca.where} ${ca.value}`;
      if (!tls.ca.includes('-----BEGIN CERTIFICATE-----')) {
        throw new ConfigError(`${ca.where} ${ca.value} holds no PEM certificate: give the CA as PEM (from a Java truststore: keytool -exportcert -rfc -alias ALIAS -keystore truststore.jks)`);
      }
    }
    const [cert, key, keystore] = [get('ssl.certificate.location'), get('ssl.key.location'), get('ssl.keystore.location')];
    if ((cert !== undefined) !== (key !== undefined)) {
      throw new ConfigError(`${(cert ?? key)!.where} is set without ${cert ? 'KAFKA_SSL_KEY_LOCATION' : 'KAFKA_SSL_CERTIFICATE_LOCATION'}: a client certificate needs its private key, and the key its certificate`);
    }
    if (cert && keystore) throw new ConfigError(`${cert.where} and ${keystore.where} are both set: give the client certificate as PEM files or as a PKCS#12 keystore, not both`);
    if (cert && key) {
      tls.cert = readFile(cert, 'the client certificate (PEM)');
      tls.key = new Secret(readFile(key, 'the client\'s private key (PEM)'));
      const keyPassword = get('ssl.key.password');
      if (keyPassword) tls.keyPassword = new Secret(keyPassword.value);
    }
    if (keystore) {
      tls.keystore = new Secret(readFile(keystore, 'the client keystore (PKCS#12)'));
      const storePassword = get('ssl.keystore.password');
      if (storePassword) tls.keystorePassword = new Secret(storePassword.value);
    }
    checkTlsFiles(tls, cert ?? keystore);
    security.tls = tls;
  }
  return security;
}

/** Lets OpenSSL read the certificates and keys now: a key that does not match, or a wrong key password, said before connecting. */
function checkTlsFiles(tls: NonNullable<KafkaSecurity['tls']>, client: Given | undefined): void {
  try {
    createSecureContext(tlsOptions(tls));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const what = client ? `the client certificate (${client.where} ${client.value})` : `the CA (${tls.caFrom ?? 'KAFKA_SSL_CA_LOCATION'})`;
    throw new ConfigError(`cannot use ${what}: ${why}; check the file, and its password (KAFKA_SSL_KEY_PASSWORD / KAFKA_SSL_KEYSTORE_PASSWORD) if it has one`, { cause: error });
  }
}

function tlsOptions(tls: NonNullable<KafkaSecurity['tls']>): ConnectionOptions {
  return {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key.reveal(), ...(tls.keyPassword ? { passphrase: tls.keyPassword.reveal() } : {}) } : {}),
    ...(tls.keystore ? { pfx: tls.keystore.reveal(), ...(tls.keystorePassword ? { passphrase: tls.keystorePassword.reveal() } : {}) } : {}),
    rejectUnauthorized: true,
    ...(tls.checkHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** The client library's `tls` and `sasl` options for `security` (none for PLAINTEXT). The password is handed over as a function, so the options never hold it. */
export function securityOptions(security: KafkaSecurity | undefined): { tls?: ConnectionOptions; sasl?: { mechanism: SaslMechanism; username: string; password: () => string } } {
  if (!security) return {};
  const { sasl, tls } = security;
  return {
    ...(tls ? { tls: tlsOptions(tls) } : {}),
    ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: () => sasl.password.reveal() } } : {}),
  };
}
