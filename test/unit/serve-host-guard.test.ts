import { describe, expect, it } from 'vitest';
import { allowedHostsFor } from '../../cli/commands/serve.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// A loopback server answers loopback Host headers only (DNS rebinding). `--host 127.0.0.2` is loopback
// (no warning, the guard on), but the guard knew the loopback names only: every request to the URL it
// printed, Host 127.0.0.2:PORT, was refused with 403.
describe('concord serve: the Host guard of a loopback server', () => {
  const reader = { close: async () => undefined } as unknown as StoreReader;

  it('answers the address it listens on and the loopback names, refuses any other name', async () => {
    for (const listen of ['127.0.0.1', '127.0.0.2', '127.1.2.3', 'localhost', '::1']) {
      const allowedHosts = allowedHostsFor(listen);
      expect(allowedHosts, listen).toBeDefined();
      const server = await buildServer({ registry: seedRegistry(), reader, log: createLogger('silent'), allowedHosts: allowedHosts! });
      try {
        const own = listen.includes(':') ? `[${listen}]:8080` : `${listen}:8080`;
        for (const host of [own, 'localhost:8080', '127.0.0.1']) {
          expect((await server.app.inject({ method: 'GET', url: '/healthz', headers: { host } })).statusCode, `${listen} <- ${host}`).toBe(200);
        }
        for (const host of ['evil.example:8080', 'evil.example', '127.0.0.2.evil.example']) {
          if (host.startsWith(listen)) continue;
          expect((await server.app.inject({ method: 'GET', url: '/healthz', headers: { host } })).statusCode, `${listen} <- ${host}`).toBe(403);
        }
      } finally {
        await server.close();
      }
    }
  });

  it('beyond loopback any Host is answered (there is no name to check against)', () => {
    expect(allowedHostsFor('0.0.0.0')).toBeUndefined();
    expect(allowedHostsFor('10.1.2.3')).toBeUndefined();
  });
});
