import { connect } from 'node:net';

/**
 * Minimal wire-protocol probes, so readiness means "answers requests", not "port is open":
 * Kafka ApiVersions v0 and Metadata v8, Redis PING.
 */
function exchange(host: string, port: number, request: Buffer, done: (data: Buffer) => boolean, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)); }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (done(data)) { clearTimeout(timer); socket.destroy(); resolve(data); }
    });
    socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    socket.on('close', () => { clearTimeout(timer); reject(new Error(`${host}:${port} closed the connection`)); });
  });
}

/** Sends ApiVersions v0; returns the API keys the broker supports with their [min, max] versions. */
export async function kafkaApiVersions(host: string, port: number, timeoutMs = 2_000): Promise<Map<number, [number, number]>> {
  const clientId = Buffer.from('concord-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0); // ApiVersions
  body.writeInt16BE(0, 2); // v0
  body.writeInt32BE(1, 4); // correlation id
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  const reply = await exchange(host, port, Buffer.concat([size, body]), (d) => d.length >= 4 && d.length >= 4 + d.readInt32BE(0), timeoutMs);
  const errorCode = reply.readInt16BE(8);
  if (errorCode !== 0) throw new Error(`ApiVersions answered error code ${errorCode}`);
  const count = reply.readInt32BE(10);
  const apis = new Map<number, [number, number]>();
  for (let i = 0, at = 14; i < count; i++, at += 6) apis.set(reply.readInt16BE(at), [reply.readInt16BE(at + 2), reply.readInt16BE(at + 4)]);
  return apis;
}

export interface KafkaClusterMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: { nodeId: number; host: string; port: number }[];
}

/**
 * Sends Metadata v8 for no topics: the brokers the cluster advertises. A KRaft broker lists itself
 * only once it has registered with the controller and been unfenced, so this means "ready for clients".
 */
export async function kafkaMetadata(host: string, port: number, timeoutMs = 2_000): Promise<KafkaClusterMetadata> {
  const clientId = Buffer.from('concord-probe');
  const header = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  header.writeInt16BE(3, 0); // Metadata
  header.writeInt16BE(8, 2); // v8: the last version without tagged fields, served by Kafka 2.3 .. 4.x
  header.writeInt32BE(2, 4); // correlation id
  header.writeInt16BE(clientId.length, 8);
  clientId.copy(header, 10);
  // topics: empty array (none), allow_auto_topic_creation, include_cluster/topic_authorized_operations
  const body = Buffer.from([0, 0, 0, 0, 0, 0, 0]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length, 0);
  const reply = await exchange(host, port, Buffer.concat([size, header, body]), (d) => d.length >= 4 && d.length >= 4 + d.readInt32BE(0), timeoutMs);
  let at = 8 + 4; // size, correlation id, throttle_time_ms
  const string = (nullable: boolean): string | null => {
    const len = reply.readInt16BE(at);
    at += 2;
    if (len < 0 && nullable) return null;
    const text = reply.toString('utf8', at, at + len);
    at += len;
    return text;
  };
  const brokers: KafkaClusterMetadata['brokers'] = [];
  const count = reply.readInt32BE(at);
  at += 4;
  for (let i = 0; i < count; i++) {
    const nodeId = reply.readInt32BE(at);
    at += 4;
    const brokerHost = string(false) ?? '';
    const brokerPort = reply.readInt32BE(at);
    at += 4;
    string(true); // rack
    brokers.push({ nodeId, host: brokerHost, port: brokerPort });
  }
  const clusterId = string(true);
  const controllerId = reply.readInt32BE(at);
  return { clusterId, controllerId, brokers };
}

export async function redisPing(url: URL, timeoutMs = 2_000): Promise<string> {
  const reply = await exchange(url.hostname, Number(url.port || 6379), Buffer.from('*1\r\n$4\r\nPING\r\n'), (d) => d.includes('\r\n'), timeoutMs);
  return reply.toString('utf8').trim();
}

/** Polls `probe` until it succeeds or the deadline passes (never a fixed sleep). */
export async function waitFor<T>(what: string, probe: () => Promise<T>, deadlineMs: number, onWait?: (elapsed: number) => void): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    const elapsed = Date.now() - started;
    if (elapsed > deadlineMs) {
      throw new Error(`${what} did not answer within ${deadlineMs / 1000} s: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
    }
    onWait?.(elapsed);
    await new Promise((r) => setTimeout(r, 250));
  }
}
