import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, uniqueVisitors5m } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { pipelineMerge } from '../../stream/pipeline-merge.ts';
import { progressMessage } from '../../stream/merge-messages.ts';

// A group's partials come from one definition version; records written before the definition changed,
// not merged yet, must not be combined under the new one (the results would carry its version).
describe('the merge stage takes records of its own definition version only', () => {
  for (const def of [uniqueVisitors5m(), fraudMultiCountry()]) {
    it(`${def.kind}: its own version merges; another is refused as the user's to fix (exit 2), naming both`, () => {
      const merge = pipelineMerge(def, 'clicks', 2, 'p.concord.partials.clicks.g');
      const version = definitionVersion(def);
      merge.accept(progressMessage(def.name, version, 0, 1_000, { watermark: 1_000, idle: false }));
      let refused: unknown;
      try {
        merge.accept(progressMessage(def.name, 'a1b2c3d4e5f6', 1, 1_000, { watermark: 1_000, idle: false }));
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(ConcordError);
      expect((refused as ConcordError).domain).toBe('user');
      expect((refused as Error).message).toBe(
        `p.concord.partials.clicks.g holds progress records of ${def.name} written under definition version a1b2c3d4e5f6, and this merge stage runs version ${version}: ` +
          'run a changed definition under a new --group (docs/operations.md, "Recovering")');
    });
  }
});
