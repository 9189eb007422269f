import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { RedisUnreachableError } from '../../jobs/redis-connection.ts';
import { openStoreReader } from '../../store/open-store.ts';
import { redact } from '../../store/sql-driver.ts';

// node-postgres and ioredis read a password from the URL's query too (`?password=`): such a URL was
// shown whole — in serve's /api/status and /api/jobs, its log lines, and every "does not answer" error.
describe('redact: passwords in query parameters', () => {
  it('masks every parameter whose name holds "pass", keeps the others', () => {
    expect(redact('postgres://postgres@127.0.0.1:5432/db?password=s3cret')).toBe('postgres://postgres@127.0.0.1:5432/db?password=***');
    expect(redact('postgres://u@h/db?sslmode=require&sslpassword=k3y&application_name=x')).toBe('postgres://u@h/db?sslmode=require&sslpassword=***&application_name=x');
    expect(redact('redis://127.0.0.1:6379/?db=2&PASSWORD=s3cret#x')).toBe('redis://127.0.0.1:6379/?db=2&PASSWORD=***#x');
    expect(redact('postgres://u:pw@h/db?password=s3cret')).toBe('postgres://u:***@h/db?password=***');
    expect(redact('postgres://u@h/db?sslmode=disable')).toBe('postgres://u@h/db?sslmode=disable');
  });

  it('the messages that name a store or Redis carry neither password', async () => {
    expect(new RedisUnreachableError('redis://h:1/?password=s3cret').message).not.toContain('s3cret');
    const refused = await openStoreReader('postgres://postgres@127.0.0.1:1/db?password=s3cret', { registry: seedRegistry() }).then(() => 'opened', (e: Error) => e.message);
    expect(refused).toContain('127.0.0.1:1');
    expect(refused).not.toContain('s3cret');
  });
});
