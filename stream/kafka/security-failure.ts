/**
 * A failed connection to a secured (or wrongly secured) broker, said as the user's mistake with what to
 * do: a refused password, a certificate this client does not trust, a plaintext client at a TLS listener
 * and the other way round. These are settings, not outages: retrying does not help (exit 2). Never says
 * a secret: the messages are built from the settings' names and the user name only.
 */
import { AuthenticationError } from '@platformatic/kafka';
import type { KafkaSecurity } from './security.ts';

/** Node's TLS errors (OpenSSL's verify results) meaning "not signed by a CA this client trusts". */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** The TLS alerts of a broker refusing this client's certificate (or wanting one). */
const CLIENT_CERT_REFUSED = /certificate required|bad certificate|unknown ca|ALERT_CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/i;

/** Every error in `error`'s chain: its causes and the errors it aggregates. */
function chain(error: unknown, out: Error[] = [], depth = 0): Error[] {
  if (!(error instanceof Error) || depth > 8 || out.includes(error)) return out;
  out.push(error);
  for (const inner of (error as { errors?: unknown[] }).errors ?? []) chain(inner, out, depth + 1);
  chain(error.cause, out, depth + 1);
  return out;
}

/** The broker's error id (a ProtocolError's `apiId`) anywhere in `error`'s chain. */
const hasApiId = (error: unknown, id: string) => chain(error).some((e) => (e as { apiId?: string }).apiId === id);

/** What is wrong with the security settings, if that is why `error` happened; else undefined. */
export function securityProblem(error: unknown, brokers: readonly string[], security: KafkaSecurity): string | undefined {
  const all = chain(error);
  const at = brokers.join(',');
  const protocol = `the security protocol is ${security.protocol} (${security.protocolFrom})`;
  // First: a plaintext client's SASL handshake at a TLS listener fails as "no suitable SASL mechanism" caused by this.
  if (all.some((e) => e.message === 'Broker requires TLS.')) {
    return `the broker at ${at} speaks TLS but ${protocol}: set KAFKA_SECURITY_PROTOCOL to ${security.sasl ? 'SASL_SSL' : 'SSL or SASL_SSL'} (and KAFKA_SSL_CA_LOCATION to the CA that signed its certificate)`;
  }
  const auth = all.find((e) => e instanceof AuthenticationError || hasApiId(e, 'SASL_AUTHENTICATION_FAILED'));
  if (auth && security.sasl) {
    if (/suitable SASL mechanism/.test(auth.message)) {
      if (hasApiId(auth, 'ILLEGAL_SASL_STATE')) {
        return `the listener at ${at} does not do SASL but ${protocol}: name its SASL listener in KAFKA_BROKERS, or set KAFKA_SECURITY_PROTOCOL to ${security.tls ? 'SSL' : 'PLAINTEXT'} without the KAFKA_SASL_* settings`;
      }
      if (!hasApiId(auth, 'UNSUPPORTED_SASL_MECHANISM') && !security.tls) {
        return `the broker at ${at} closed the connection at the SASL handshake and ${protocol}: if that listener is TLS, set KAFKA_SECURITY_PROTOCOL to SASL_SSL (and KAFKA_SSL_CA_LOCATION to the CA that signed its certificate)`;
      }
      return `the broker at ${at} does not take SASL ${security.sasl.mechanism} on this listener: set KAFKA_SASL_MECHANISM to one it enables ` +
        '(its sasl.enabled.mechanisms), or check that KAFKA_BROKERS names its SASL listener';
    }
    return `SASL authentication failed for user "${security.sasl.username}" (${security.sasl.mechanism}) at ${at}: check the user name (KAFKA_SASL_USERNAME) ` +
      `and the password (${security.sasl.passwordFrom}), and that ${security.sasl.mechanism === 'PLAIN' ? 'the broker knows this user' : `the cluster has ${security.sasl.mechanism} credentials for this user`}`;
  }
  for (const e of all) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (UNTRUSTED.has(code)) {
      const ca = security.tls?.caFrom ? `the CA given (${security.tls.caFrom}) did not sign it` : 'no CA is given (KAFKA_SSL_CA_LOCATION), so only the system\'s CAs are trusted';
      return `certificate verify failed for the broker at ${at} (${e.message}): ${ca}; set KAFKA_SSL_CA_LOCATION to the PEM file of the CA that signed the broker's certificate`;
    }
    if (EXPIRED.has(code)) return `certificate verify failed for the broker at ${at} (${e.message}): renew the broker's certificate, or check this machine's clock`;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return `the broker's certificate does not name the host connected to (${e.message}): name the brokers in KAFKA_BROKERS as the certificate does, ` +
        'or (for a test cluster only) set KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=none';
    }
    if (CLIENT_CERT_REFUSED.test(`${code} ${e.message}`)) {
      const given = security.tls?.cert || security.tls?.keystore;
      return `the broker at ${at} refused this client's certificate (${e.message}): ${given ? 'the client certificate given is not signed by a CA the broker trusts' :
        'it wants one (mutual TLS): set KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION (PEM), or KAFKA_SSL_KEYSTORE_LOCATION (PKCS#12)'}`;
    }
    if (security.tls && (/TLS handshake failed|wrong version number|packet length too long|disconnected before secure TLS/i.test(e.message) || code === 'ERR_SSL_WRONG_VERSION_NUMBER')) {
      return `the TLS handshake with the broker at ${at} failed (${e.message}): ${protocol}; if that listener is not TLS, set KAFKA_SECURITY_PROTOCOL to PLAINTEXT or SASL_PLAINTEXT, or name its TLS listener in KAFKA_BROKERS`;
    }
  }
  return undefined;
}

/**
 * Whether `error` is the broker refusing this client's settings outright (a SASL authentication failure,
 * a certificate verify failure, a TLS alert refusing the client's certificate, a TLS listener spoken to in
 * plaintext), as opposed to a TLS handshake cut short or a connection closed: a broker restarting (a
 * rolling upgrade) does those too, and a running process rides them out as an outage. The retries of a
 * running consumer end only on this (consumer.ts).
 */
export function settingsRefused(error: unknown): boolean {
  return chain(error).some((e) => {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return e.message === 'Broker requires TLS.' || e instanceof AuthenticationError || hasApiId(e, 'SASL_AUTHENTICATION_FAILED')
      || UNTRUSTED.has(code) || EXPIRED.has(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      || CLIENT_CERT_REFUSED.test(`${code} ${e.message}`);
  });
}

/**
 * The first contact's connection was taken and then closed by the broker (not refused): what a SASL
 * listener does to a client that does not authenticate, and a mutual-TLS one (TLS 1.3) to a client
 * without a certificate, or with one it refuses (expired: measured, the client sees only the close).
 * Said as the settings' problem then; undefined when this client gives SASL.
 */
export function closedByBroker(reason: string, brokers: readonly string[], security: KafkaSecurity): string | undefined {
  if (!/closed|ECONNRESET|socket hang up|EPIPE/i.test(reason) || security.sasl) return undefined;
  const clientCert = Boolean(security.tls?.cert || security.tls?.keystore);
  const wants = [
    'SASL: set KAFKA_SECURITY_PROTOCOL to SASL_SSL (or SASL_PLAINTEXT) with KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE',
    ...(security.tls && !clientCert ? ['a client certificate (mutual TLS): set KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION, or KAFKA_SSL_KEYSTORE_LOCATION'] : []),
    // An expired or replaced certificate is closed on the same way: only its holder can check its dates.
    ...(security.tls && clientCert ? [`another client certificate: the one given (${security.tls.cert ? 'KAFKA_SSL_CERTIFICATE_LOCATION' : 'KAFKA_SSL_KEYSTORE_LOCATION'}) ` +
      'may have expired (check its dates: openssl x509 -noout -dates) or not be signed by a CA the broker trusts'] : []),
  ];
  return `the broker at ${brokers.join(',')} took the connection and closed it (${reason}) with the security protocol ${security.protocol} (${security.protocolFrom}): ` +
    `its listener wants ${wants.join('; or ')}. Check that KAFKA_BROKERS names the listener you mean`;
}
