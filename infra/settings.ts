import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Infrastructure settings from the environment, with loopback defaults. */
export const projectRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface InfraSettings {
  kafkaHost: string;
  kafkaPort: number;
  controllerPort: number;
  /** The broker's SASL_SSL listener (PLAIN, SCRAM-SHA-256/512; infra/kafka-security.ts). */
  saslSslPort: number;
  /** The broker's SSL listener that requires a client certificate (mutual TLS). */
  sslPort: number;
  /** Broker properties, logs (`server.log`, `stdout.log`) and data (`data/`, the `log.dirs`). */
  dataDir: string;
  /** Resolved broker jars (cached between runs). */
  libsDir: string;
  redisUrl: URL;
  /** Pid files, ownership markers, leases and the up lock. */
  stateDir: string;
}

function port(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65_535) throw new Error(`${name}=${v} is not a TCP port (1-65535)`);
  return n;
}

export function infraSettings(): InfraSettings {
  const infraDir = join(projectRoot, '.infra');
  const kafkaPort = port('KAFKA_PORT', 9092);
  return {
    kafkaHost: '127.0.0.1',
    kafkaPort,
    controllerPort: port('KAFKA_CONTROLLER_PORT', 9093),
    // Next to the PLAINTEXT port, so a second broker on another KAFKA_PORT (the chaos matrix's) does not take the same ones.
    saslSslPort: port('KAFKA_PORT_SASL_SSL', kafkaPort + 2),
    sslPort: port('KAFKA_PORT_SSL', kafkaPort + 3),
    dataDir: resolve(process.env.KAFKA_DATA_DIR || join(infraDir, 'kafka')),
    libsDir: resolve(process.env.KAFKA_LIBS_DIR || join(infraDir, 'kafka', 'libs')),
    redisUrl: new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379'),
    stateDir: infraDir,
  };
}

export function redisPort(s: InfraSettings): number {
  return Number(s.redisUrl.port || 6379);
}
