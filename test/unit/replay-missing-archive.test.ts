import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { DefinitionError } from '../../pipeline/errors.ts';

// replay() is also reached past the CLI's path checks (backfill, jobs): a missing archive is the
// user's mistake, said in words (it said "(Error: ENOENT: no such file or directory, access ...)").
const def = parseDefinitions({
  schemas: { s: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp' } } },
  pipelines: { n: { input: 's', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
}, 'test').pipeline('n');

describe('replay of an archive directory that is not there', () => {
  it('is a user error saying what to do, without the system error', async () => {
    const nowhere = join(tmpdir(), 'concord-no-such-archive-cli');
    const failed = await replay(def, nowhere).then(() => undefined, (error: unknown) => error);
    expect(failed).toBeInstanceOf(DefinitionError);
    expect((failed as Error).message).toBe(`archive directory ${nowhere} does not exist: name the directory \`concord archive --dir\` wrote, or archive the events first`);
  });
});
