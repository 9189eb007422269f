import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { describePipeline } from '../../serve/routes/pipelines.ts';
import { concord } from '../fixtures/cli.ts';
import { FARES, RIDES_DEFINITIONS, ridesRegistry } from '../fixtures/rides-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A pipeline's description is what its author wrote, or none: never its name again (explain printed
// the name twice, the API answered "description": "<name>").
const ws = tempWorkspace('concord-description-');
afterAll(() => ws.cleanup());

describe('a pipeline without a description has none', () => {
  const { registry, file } = ridesRegistry(ws.dir);
  const described = join(ws.dir, 'described.json');
  writeFileSync(described, JSON.stringify({
    ...RIDES_DEFINITIONS,
    pipelines: { ...RIDES_DEFINITIONS.pipelines, [FARES]: { ...RIDES_DEFINITIONS.pipelines[FARES], description: 'Fares per city every 15 minutes' } },
  }));

  it('the API says null; a given description is kept', () => {
    expect(describePipeline(registry.pipeline(FARES)).description).toBeNull();
    expect(describePipeline(registry.pipeline('driver_burst')).description).toBeNull();
    const withOne = parseDefinitions({
      ...RIDES_DEFINITIONS, pipelines: { [FARES]: { ...RIDES_DEFINITIONS.pipelines[FARES], description: 'Fares per city every 15 minutes' } },
    }, 'described.json');
    expect(describePipeline(withOne.pipeline(FARES)).description).toBe('Fares per city every 15 minutes');
  });

  it('explain names the pipeline once, then its description when it has one', () => {
    const bare = concord(['explain', '--definitions', file, '--pipeline', FARES]);
    expect(bare.code, bare.stderr).toBe(0);
    const lines = bare.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${FARES}: windowed pipeline over schema rides`));
    expect(lines[1]).toBe('');
    expect(lines.filter((l) => l.trim() === FARES)).toEqual([]);
    const given = concord(['explain', '--definitions', described, '--pipeline', FARES]);
    expect(given.code, given.stderr).toBe(0);
    expect(given.stdout.split('\n').slice(1, 3)).toEqual(['  Fares per city every 15 minutes', '']);
  });
});
