import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { DefinitionError } from '../../pipeline/errors.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A schema whose id (or time) field changed: the files archived before hold the events under the old
// one and every other field. They were taken for another schema's files and moved to `_corrupt/`, every
// one of them (a walkthrough lost 216 of 240 files that way): the replay then read only the new files and
// a whole-day recompute published the older days empty. They are this schema's data: the read is refused
// (exit 2) naming the field, and no file leaves the archive.
const ws = tempWorkspace('concord-id-field-changed-');
afterAll(() => ws.cleanup());

const fields = { order_id: 'string', placed_at: 'timestamp', region: 'string', amount: 'int' };
const pipelines = (input: string) => ({
  per_region: { input, key: 'region', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
  burst: { input, key: 'region', rule: { within: '1m', count: true, more_than: 5, output: 'n' } },
});
const before = parseDefinitions({ schemas: { orders: { time: 'placed_at', id: 'order_id', fields } }, pipelines: pipelines('orders') }, 'before');
const newId = parseDefinitions({
  schemas: { orders: { time: 'placed_at', id: 'order_ref', fields: { ...fields, order_id: 'string?', order_ref: 'string' } } }, pipelines: pipelines('orders'),
}, 'new id');
const newTime = parseDefinitions({
  schemas: { orders: { time: 'created_at', id: 'order_id', fields: { ...fields, placed_at: 'timestamp?', created_at: 'timestamp' } } }, pipelines: pipelines('orders'),
}, 'new time');

const events = Array.from({ length: 12 }, (_, i) => JSON.stringify({ order_id: `o${i}`, placed_at: i * 10_000, region: i % 2 ? 'north' : 'south', amount: i }));
const parquetFiles = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet'));

describe('a schema whose id or time field changed after its archive was written', () => {
  for (const [what, defs, field, role] of [['id', newId, 'order_ref', 'id'], ['time', newTime, 'created_at', 'time']] as const) {
    it(`${what} field: replay and reconcile refuse, naming the field; no archive file is moved out`, async () => {
      const dir = join(ws.dir, what);
      await new ParquetArchive(dir, before.pipeline('per_region').schema).write(memoryBatches('file:d1.jsonl', events, 1000));
      const files = parquetFiles(dir);
      expect(files.length).toBeGreaterThan(0);
      const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        const said = new RegExp(`has no column for "${field}" \\(${files.length} of ${files.length} files\\), which pipeline (per_region|burst) reads: .*"${field}" is the ${role} field now`);
        for (const p of ['per_region', 'burst']) {
          const def = defs.pipeline(p);
          // Reconcile reads the id (each event counted once); so does a rule (ties in id order).
          await expect(reconcile({ def, realtime: [], archiveDir: dir })).rejects.toThrow(DefinitionError);
          await expect(reconcile({ def, realtime: [], archiveDir: dir })).rejects.toThrow(said);
        }
        await expect(replay(defs.pipeline('burst'), dir)).rejects.toThrow(said);
        expect(parquetFiles(dir)).toEqual(files);
        expect(existsSync(join(dir, 'orders', '_corrupt'))).toBe(false);
        expect(warned).not.toHaveBeenCalledWith(expect.anything(), 'CorruptArchiveFile');
        // Under the definitions the files were archived with, they read as ever.
        expect((await replay(before.pipeline('per_region'), dir)).length).toBe(4);
      } finally {
        warned.mockRestore();
      }
    });
  }
});
