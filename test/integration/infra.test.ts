import { describe, expect, it } from 'vitest';
import { kafkaApiVersions, redisPing } from '../../infra/probes.ts';
import { infraSettings } from '../../infra/settings.ts';

// `npm test` runs `infra:up` first: these check that what it promises really answers.
describe('infrastructure brought up by infra:up (real services)', () => {
  const s = infraSettings();

  it('a Kafka 4.x broker answers on loopback', async () => {
    const apis = await kafkaApiVersions(s.kafkaHost, s.kafkaPort);
    // Kafka 4.0 removed old protocol versions (KIP-896): Fetch v0-3, ListOffsets v0, OffsetCommit v0-1.
    expect(apis.get(1)?.[0]).toBeGreaterThanOrEqual(4);
    expect(apis.get(2)?.[0]).toBeGreaterThanOrEqual(1);
    expect(apis.get(8)?.[0]).toBeGreaterThanOrEqual(2);
    // Transactions with sendOffsets need AddOffsetsToTxn (25) and TxnOffsetCommit (28).
    expect(apis.has(25) && apis.has(28)).toBe(true);
    expect(s.kafkaHost).toBe('127.0.0.1');
  });

  it('Redis answers PING', async () => {
    expect(await redisPing(s.redisUrl)).toBe('+PONG');
  });
});
