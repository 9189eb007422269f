import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { DefinitionError } from '../../pipeline/errors.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A field added to a schema after some of its archive was written has no column in those files. A
// pipeline reading it made DuckDB fail on the glob ("column not found" / "schema mismatch"), which
// `concord replay` and `concord reconcile` reported as an internal error with a stack trace (exit 1).
// A required field: a user error (exit 2) names the field, how many files lack it, and what to do.
// An optional one (`type?`) is a compatible change: the files without it read it as null.
// (Stream == replay == expectation over such a field: replay-optional-field-added.test.ts.)
const ws = tempWorkspace('concord-field-added-');
afterAll(() => ws.cleanup());

const fields = { id: 'string', ts: 'timestamp', site: 'string' };
const registry = (extra: Record<string, string>) => parseDefinitions({
  schemas: { s: { time: 'ts', id: 'id', fields: { ...fields, ...extra } } },
  pipelines: {
    per_site: { input: 's', key: 'site', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
    firmwares: { input: 's', key: 'site', window: { tumbling: '1m' }, aggregates: { fw: ['count_distinct', 'firmware'] } },
    fw_sketch: { input: 's', key: [], window: { tumbling: '1m' }, aggregates: { fw: ['approx_distinct', 'firmware'] } },
  },
}, 'x');
const before = parseDefinitions({ schemas: { s: { time: 'ts', id: 'id', fields } }, pipelines: { per_site: { input: 's', key: 'site', window: { tumbling: '1m' }, aggregates: { n: 'count' } } } }, 'x');
const after = registry({ firmware: 'string?' });
const afterRequired = registry({ firmware: 'string' });

const old = [{ id: 'a', ts: 1_000, site: 'x' }, { id: 'b', ts: 2_000, site: 'y' }].map((e) => JSON.stringify(e));
const added = [{ id: 'c', ts: 3_000, site: 'x', firmware: 'v2' }].map((e) => JSON.stringify(e));

async function archive(dir: string, withAdded: boolean): Promise<void> {
  await new ParquetArchive(dir, before.pipeline('per_site').schema).write(memoryBatches('file:old.jsonl', old, 1000));
  if (withAdded) await new ParquetArchive(dir, afterRequired.pipeline('firmwares').schema).write(memoryBatches('file:new.jsonl', added, 1000));
}

describe('a field added to the schema after the archive was written', () => {
  it('required: replay and reconcile of a pipeline reading it refuse, naming the field and the files', async () => {
    for (const [name, withAdded, lacking] of [['only-old', false, '1 of 1 files'], ['mixed', true, '1 of 2 files']] as const) {
      const dir = join(ws.dir, name);
      await archive(dir, withAdded);
      const def = afterRequired.pipeline('firmwares');
      const said = new RegExp(`archive .*${name}/s has no column for "firmware" \\(${lacking}\\), which pipeline firmwares reads: .*archived before the field was in schema s.*concord archive --schema s`);
      await expect(replay(def, dir)).rejects.toThrow(DefinitionError);
      await expect(replay(def, dir)).rejects.toThrow(said);
      await expect(reconcile({ def, realtime: [], archiveDir: dir })).rejects.toThrow(said);
      // A pipeline that does not read the field replays as before.
      expect((await replay(afterRequired.pipeline('per_site'), dir)).length).toBe(2);
      // Read as optional first (the directory is then read tolerantly in this process), required still refuses.
      const tolerant = await replay(after.pipeline('firmwares'), dir);
      expect(tolerant.length).toBe(2);
      await expect(replay(def, dir)).rejects.toThrow(said);
      await expect(reconcile({ def, realtime: [], archiveDir: dir })).rejects.toThrow(said);
    }
  });

  it('optional: the files without it read it as null, whether no file or some files have it', async () => {
    for (const [name, withAdded] of [['opt-only-old', false], ['opt-mixed', true]] as const) {
      const dir = join(ws.dir, name);
      await archive(dir, withAdded);
      const def = after.pipeline('firmwares');
      const rows = (await replay(def, dir)) as WindowResult[];
      expect(rows.map((r) => [r.key.site, r.values.fw])).toEqual([['x', withAdded ? 1 : 0], ['y', 0]]);
      const report = await reconcile({ def, realtime: rows, archiveDir: dir });
      expect(report.unexplained).toBe(0);
      expect(report.different).toBe(0);
      expect(report.cells).toBe(2);
    }
  });

  it('a sketch of it over old and new files still replays (the added field hashed at replay time)', async () => {
    const dir = join(ws.dir, 'sketch');
    await archive(dir, true);
    const rows = await replay(after.pipeline('fw_sketch'), dir);
    expect(rows).toMatchObject([{ values: { fw: 1 } }]);
  });
});
